// Reading JSON request bodies with clear 400 errors. Boost.JSON stays inside api/*.cc: callers
// get plain values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jrvs::api {

// A parsed JSON object body. Getters return InvalidArgument naming the field on a wrong type.
class JsonBody {
 public:
  // InvalidArgument if `body` is not valid JSON or not an object.
  static Result<JsonBody> Parse(std::string_view body);
  JsonBody(JsonBody&&) noexcept;
  JsonBody& operator=(JsonBody&&) noexcept;
  ~JsonBody();

  bool Has(std::string_view field) const;  // present and not null
  Result<std::optional<std::string>> String(std::string_view field) const;
  Result<std::optional<int64_t>> Int(std::string_view field) const;
  Result<std::optional<bool>> Bool(std::string_view field) const;
  // The field re-serialised as JSON if it is an object ("{}" if absent/null).
  Result<std::string> ObjectText(std::string_view field) const;

 private:
  struct Impl;
  explicit JsonBody(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::api
