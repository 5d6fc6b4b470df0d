#include "api/json_body.h"

#include <fmt/format.h>
#include <boost/json.hpp>

namespace jrvs::api {

namespace json = boost::json;

struct JsonBody::Impl {
  json::object object;
  const json::value* Find(std::string_view field) const {
    auto it = object.find(field);
    if (it == object.end() || it->value().is_null()) return nullptr;
    return &it->value();
  }
};

JsonBody::JsonBody(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonBody::JsonBody(JsonBody&&) noexcept = default;
JsonBody& JsonBody::operator=(JsonBody&&) noexcept = default;
JsonBody::~JsonBody() = default;

Result<JsonBody> JsonBody::Parse(std::string_view body) {
  if (body.empty())
    return Error(StatusCode::kInvalidArgument, "request body must be a JSON object");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    return Error(StatusCode::kInvalidArgument, fmt::format("invalid JSON: {}", ec.message()));
  }
  if (!v.is_object()) {
    return Error(StatusCode::kInvalidArgument, "request body must be a JSON object");
  }
  auto impl = std::make_unique<Impl>();
  impl->object = std::move(v.as_object());
  return JsonBody(std::move(impl));
}

bool JsonBody::Has(std::string_view field) const { return impl_->Find(field) != nullptr; }

Result<std::optional<std::string>> JsonBody::String(std::string_view field) const {
  const json::value* v = impl_->Find(field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return Error(StatusCode::kInvalidArgument, fmt::format("'{}' must be a string", field));
  }
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<int64_t>> JsonBody::Int(std::string_view field) const {
  const json::value* v = impl_->Find(field);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  if (v->is_double() &&
      v->as_double() == static_cast<double>(static_cast<int64_t>(v->as_double()))) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_double()));
  }
  return Error(StatusCode::kInvalidArgument, fmt::format("'{}' must be an integer", field));
}

Result<std::optional<bool>> JsonBody::Bool(std::string_view field) const {
  const json::value* v = impl_->Find(field);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) {
    return Error(StatusCode::kInvalidArgument, fmt::format("'{}' must be true or false", field));
  }
  return std::optional<bool>(v->as_bool());
}

Result<std::string> JsonBody::ObjectText(std::string_view field) const {
  const json::value* v = impl_->Find(field);
  if (v == nullptr) return std::string("{}");
  if (!v->is_object()) {
    return Error(StatusCode::kInvalidArgument, fmt::format("'{}' must be a JSON object", field));
  }
  return json::serialize(*v);
}

}  // namespace jrvs::api
