// Internal to src/llm/*.cc: lenient readers of fields in server JSON (Boost.JSON), shared by the
// Ollama and OpenAI clients. Not for other layers (Boost stays out of their headers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace jrvs::llm::json_fields {

// The string field `key`, or "" if absent or not a string.
inline std::string StringField(const boost::json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v != nullptr && v->is_string()) {
    return std::string(v->get_string());
  }
  return "";
}

// An integer field (JSON integer or integral double); `fallback` if absent or not a number.
inline int64_t IntField(const boost::json::object& o, std::string_view key, int64_t fallback) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return fallback;
}

}  // namespace jrvs::llm::json_fields
