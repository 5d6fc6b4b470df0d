// Splits an HTTP request target into its path and query parameters (Boost.URL underneath).
// Thread-safe: a pure function.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jrvs::http {

struct ParsedTarget {
  std::string path;               // percent-decoded path, e.g. "/api/history/a b"
  std::string_view encoded_path;  // the path as sent (a view into the target), for the router
  std::vector<std::pair<std::string, std::string>> query;  // decoded, '+' as space, in order
};

// Accepts origin-form ("/p?q") and absolute-form ("http://host/p?q") targets; InvalidArgument for
// anything else or a malformed percent escape. The result views into `target`, which must outlive
// it.
Status ParseTarget(std::string_view target, ParsedTarget* out);

// The same into separate outputs; `path` and `query` are overwritten, reusing their capacity.
Status ParseTarget(std::string_view target, std::string* path, std::string_view* encoded_path,
                   std::vector<std::pair<std::string, std::string>>* query);

}  // namespace jrvs::http
