#include "api/http_types.h"

#include <boost/json.hpp>

namespace jrvs::api {

std::optional<std::string_view> Request::QueryParam(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::PathParam(std::string_view name) const {
  auto it = path_params.find(std::string(name));
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

Response ErrorResponse(StatusCode code, std::string_view message, std::string_view request_id) {
  boost::json::object error;
  error["code"] = StatusCodeName(code);
  error["message"] = message;
  error["request_id"] = request_id;
  boost::json::object root;
  root["error"] = std::move(error);
  Response r;
  r.status = HttpStatusFor(code);
  r.body = boost::json::serialize(root);
  return r;
}

Response ErrorResponse(const Status& status, std::string_view request_id) {
  return ErrorResponse(status.code(), status.message(), request_id);
}

Response JsonResponse(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace jrvs::api
