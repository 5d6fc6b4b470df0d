#include "llm/openai_client.h"

#include <cstdint>
#include <ctime>
#include <utility>

#include <boost/json.hpp>

#include "llm/json_fields.h"

namespace jrvs::llm {
namespace {

namespace json = boost::json;
using json_fields::IntField;
using json_fields::StringField;

// The server root: without trailing slashes and without a trailing "/v1".
std::string ServerRoot(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.ends_with("/v1")) url.resize(url.size() - 3);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string Rfc3339FromUnix(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<std::unique_ptr<OpenAiClient>> OpenAiClient::Create(OpenAiClientOptions options) {
  if (Status s = options.Validate(); !s.ok()) return Error(s);
  options.base_url = ServerRoot(options.base_url);
  return std::make_unique<OpenAiClient>(Key(), std::move(options));
}

OpenAiClient::OpenAiClient(Key, OpenAiClientOptions options)
    : RemoteLlmClient("openai", options),
      api_key_(std::move(options.api_key)),
      include_usage_(options.include_usage) {}

std::string OpenAiClient::ChatUrl() const { return options().base_url + "/v1/chat/completions"; }

HttpHeaders OpenAiClient::RequestHeaders() const {
  if (api_key_.empty()) return {};
  return {{"Authorization", "Bearer " + api_key_}};
}

std::string OpenAiClient::ChatBody(const ChatRequest& request, const std::string& model) const {
  json::array messages;
  messages.reserve(request.messages.size());
  for (const ChatMessage& m : request.messages) {
    messages.emplace_back(json::object{{"role", m.role}, {"content", m.content}});
  }
  json::object body{{"model", model}, {"messages", std::move(messages)}, {"stream", true}};
  if (include_usage_) body["stream_options"] = json::object{{"include_usage", true}};
  if (request.options.temperature) body["temperature"] = *request.options.temperature;
  if (request.options.max_tokens) body["max_tokens"] = *request.options.max_tokens;
  return json::serialize(body);
}

std::unique_ptr<StreamParser> OpenAiClient::NewStreamParser() const {
  return NewOpenAiStreamParser();
}

Result<std::vector<ModelInfo>> OpenAiClient::ListModels() {
  auto body = ControlRequest("/v1/models");
  if (!body) return Error(body.error());
  boost::system::error_code ec;
  json::value v = json::parse(*body, ec);
  if (ec || !v.is_object()) {
    return Error(StatusCode::kInternal, Where() + "/v1/models: malformed JSON response");
  }
  auto* data = v.get_object().if_contains("data");
  if (data == nullptr || !data->is_array()) {
    return Error(StatusCode::kInternal, Where() + "/v1/models: no \"data\" array");
  }
  std::vector<ModelInfo> out;
  for (const json::value& m : data->get_array()) {
    if (!m.is_object()) continue;
    ModelInfo info;
    info.name = StringField(m.get_object(), "id");
    if (info.name.empty()) continue;
    if (int64_t created = IntField(m.get_object(), "created", 0); created > 0) {
      info.modified_at = Rfc3339FromUnix(created);
    }
    info.details_json = json::serialize(m);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::string> OpenAiClient::ProbeHealth() {
  auto response = health_http().Get(options().base_url + "/v1/models", RequestHeaders());
  if (!response) return Error(response.error());
  if (response->status != 200) {
    return Error(HttpErrorStatus(response->status, response->body, "/v1/models"));
  }
  boost::system::error_code ec;
  json::value v = json::parse(response->body, ec);
  size_t models = 0;
  if (!ec && v.is_object()) {
    if (auto* data = v.get_object().if_contains("data"); data != nullptr && data->is_array()) {
      models = data->get_array().size();
    }
  }
  return "openai-compatible server at " + options().base_url + " (" + std::to_string(models) +
         " models)";
}

}  // namespace jrvs::llm
