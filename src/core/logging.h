// Process-wide logging setup on spdlog. Components log with spdlog's default logger.
#pragma once

#include <string_view>

#include "core/status.h"

namespace jrvs {

// Valid levels: trace, debug, info, warn, error, critical, off.
bool IsValidLogLevel(std::string_view level);

// Sets the default logger to stderr with the given level; InvalidArgument on an unknown level.
// Call once at start-up before threads start.
Status InitLogging(std::string_view level);

}  // namespace jrvs
