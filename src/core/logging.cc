#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace jrvs {

bool IsValidLogLevel(std::string_view level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error" || level == "critical" || level == "off";
}

Status InitLogging(std::string_view level) {
  if (!IsValidLogLevel(level)) {
    return Status(StatusCode::kInvalidArgument, "unknown log level '" + std::string(level) + "'");
  }
  auto logger = spdlog::get("jrvs");
  if (!logger) logger = spdlog::stderr_color_mt("jrvs");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  return Status::Ok();
}

}  // namespace jrvs
