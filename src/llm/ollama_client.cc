#include "llm/ollama_client.h"

#include <cstdint>
#include <utility>

#include <boost/json.hpp>

#include "llm/json_fields.h"

namespace jrvs::llm {
namespace {

namespace json = boost::json;
using json_fields::IntField;
using json_fields::StringField;

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// Ollama reads keep_alive as a number of seconds or a Go duration string; a bare integer in a
// string ("-1") is not a valid duration, so it goes out as a number.
json::value KeepAliveJson(const std::string& keep_alive) {
  size_t i = keep_alive.starts_with('-') ? 1 : 0;
  bool integer = keep_alive.size() > i && keep_alive.size() <= 12;
  for (size_t j = i; integer && j < keep_alive.size(); ++j) {
    integer = keep_alive[j] >= '0' && keep_alive[j] <= '9';
  }
  if (integer) return std::stoll(keep_alive);
  return json::string(keep_alive);
}

Result<json::object> ParseObject(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    return Error(StatusCode::kInternal,
                 "malformed JSON from " + std::string(what) + ": " + ec.message());
  }
  if (!v.is_object()) {
    return Error(StatusCode::kInternal, "response from " + std::string(what) + " is not an object");
  }
  return std::move(v.get_object());
}

}  // namespace

Result<std::unique_ptr<OllamaClient>> OllamaClient::Create(OllamaClientOptions options) {
  if (Status s = options.Validate(); !s.ok()) return Error(s);
  options.base_url = TrimTrailingSlashes(options.base_url);
  return std::make_unique<OllamaClient>(Key(), std::move(options));
}

OllamaClient::OllamaClient(Key, OllamaClientOptions options)
    : RemoteLlmClient("ollama", options), keep_alive_(std::move(options.keep_alive)) {}

std::string OllamaClient::ChatUrl() const { return options().base_url + "/api/chat"; }

std::string OllamaClient::ChatBody(const ChatRequest& request, const std::string& model) const {
  json::array messages;
  messages.reserve(request.messages.size());
  for (const ChatMessage& m : request.messages) {
    messages.emplace_back(json::object{{"role", m.role}, {"content", m.content}});
  }
  json::object body{{"model", model}, {"messages", std::move(messages)}, {"stream", true}};
  const ChatOptions& o = request.options;
  const std::string& keep_alive = o.keep_alive.empty() ? keep_alive_ : o.keep_alive;
  if (!keep_alive.empty()) body["keep_alive"] = KeepAliveJson(keep_alive);
  json::object model_options;
  if (o.temperature) model_options["temperature"] = *o.temperature;
  if (o.num_ctx) model_options["num_ctx"] = *o.num_ctx;
  if (o.max_tokens) model_options["num_predict"] = *o.max_tokens;
  if (!model_options.empty()) body["options"] = std::move(model_options);
  return json::serialize(body);
}

std::unique_ptr<StreamParser> OllamaClient::NewStreamParser() const {
  return NewOllamaStreamParser();
}

Result<std::vector<ModelInfo>> OllamaClient::ListModels() {
  auto body = ControlRequest("/api/tags");
  if (!body) return Error(body.error());
  auto o = ParseObject(*body, Where() + "/api/tags");
  if (!o) return Error(o.error());
  auto* models = o->if_contains("models");
  if (models == nullptr || !models->is_array()) {
    return Error(StatusCode::kInternal, Where() + "/api/tags: no \"models\" array");
  }
  std::vector<ModelInfo> out;
  for (const json::value& m : models->get_array()) {
    if (!m.is_object()) continue;
    const json::object& mo = m.get_object();
    ModelInfo info;
    info.name = StringField(mo, "name");
    if (info.name.empty()) info.name = StringField(mo, "model");
    if (info.name.empty()) continue;
    info.size = IntField(mo, "size", 0);
    info.modified_at = StringField(mo, "modified_at");
    auto* details = mo.if_contains("details");
    info.details_json =
        details != nullptr && details->is_object() ? json::serialize(*details) : "{}";
    out.push_back(std::move(info));
  }
  return out;
}

Result<ModelInfo> OllamaClient::DescribeModel(std::string_view name) {
  auto body = ControlRequest("/api/show", json::serialize(json::object{{"model", name}}), true);
  if (!body) return Error(body.error());
  auto o = ParseObject(*body, Where() + "/api/show");
  if (!o) return Error(o.error());
  ModelInfo info;
  info.name = std::string(name);
  info.modified_at = StringField(*o, "modified_at");
  json::object details;
  for (std::string_view key : {"details", "model_info", "capabilities", "parameters"}) {
    if (auto* v = o->if_contains(key); v != nullptr) details[key] = *v;
  }
  info.details_json = json::serialize(details);
  return info;
}

Result<std::string> OllamaClient::ProbeHealth() {
  auto response = health_http().Get(options().base_url + "/api/version", RequestHeaders());
  if (!response) return Error(response.error());
  if (response->status != 200) {
    return Error(HttpErrorStatus(response->status, response->body, "/api/version"));
  }
  auto o = ParseObject(response->body, "/api/version");
  if (!o) return Error(o.error());
  std::string version = StringField(*o, "version");
  return "ollama " + (version.empty() ? std::string("(unknown version)") : version) + " at " +
         options().base_url;
}

}  // namespace jrvs::llm
