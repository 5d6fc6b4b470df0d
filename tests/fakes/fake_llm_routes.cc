#include "fakes/fake_llm_routes.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>

#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>

namespace jrvs::testing::fake_llm {
namespace {

namespace json = boost::json;

uint64_t Fnv1a(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

bool ModelKnown(const std::vector<std::string>& models, std::string_view name) {
  for (const auto& m : models) {
    if (m == name) return true;
    if (m == std::string(name) + ":latest") return true;
    if (name.ends_with(":latest") && m == name.substr(0, name.size() - 7)) return true;
  }
  return false;
}

std::string StringField(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
  return "";
}

// Words counted as tokens for usage figures.
int CountWords(std::string_view text) {
  int n = 0;
  bool in_word = false;
  for (unsigned char c : text) {
    bool space = std::isspace(c) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

json::array EmbeddingJson(std::string_view text, const Config& cfg) {
  json::array a;
  auto v = FakeLlmServer::FakeEmbedding(text, cfg.embed_dim);
  a.reserve(v.size());
  for (float x : v) a.emplace_back(static_cast<double>(x * cfg.embed_scale));
  return a;
}

Response JsonResponse(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

Response OpenAiError(int status, std::string message, std::string_view code) {
  return JsonResponse(status, json::object{{"error", json::object{{"message", std::move(message)},
                                                                  {"type", "invalid_request_error"},
                                                                  {"code", code}}}});
}

Response PlainNotFound() {
  Response r;
  r.status = 404;
  r.content_type = "text/plain";
  r.body = "404 page not found";
  r.body_is_json = false;
  return r;
}

json::object ModelDetails() {
  return json::object{{"parent_model", ""},       {"format", "gguf"},
                      {"family", "llama"},        {"families", json::array{"llama"}},
                      {"parameter_size", "1.2B"}, {"quantization_level", "Q4_K_M"}};
}

// Reply text for a chat request: "{last_user}" becomes the last user message's content.
std::string ReplyFor(const Config& cfg, const json::object& req) {
  std::string reply = cfg.reply;
  constexpr std::string_view kPlaceholder = "{last_user}";
  auto pos = reply.find(kPlaceholder);
  if (pos == std::string::npos) return reply;
  std::string last_user;
  if (auto* msgs = req.if_contains("messages"); msgs && msgs->is_array()) {
    for (const auto& m : msgs->get_array()) {
      if (m.is_object() && StringField(m.get_object(), "role") == "user") {
        last_user = StringField(m.get_object(), "content");
      }
    }
  }
  while (pos != std::string::npos) {
    reply.replace(pos, kPlaceholder.size(), last_user);
    pos = reply.find(kPlaceholder, pos + last_user.size());
  }
  return reply;
}

int PromptWords(const json::object& req) {
  int n = 0;
  if (auto* msgs = req.if_contains("messages"); msgs && msgs->is_array()) {
    for (const auto& m : msgs->get_array()) {
      if (m.is_object()) n += CountWords(StringField(m.get_object(), "content"));
    }
  }
  return n;
}

// Total generation time of a non-streamed reply.
int GenerationDelay(const Config& cfg, size_t tokens) {
  if (tokens == 0) return cfg.ttft_ms;
  return cfg.ttft_ms + static_cast<int>(tokens - 1) * cfg.token_delay_ms;
}

Response OllamaChat(const Config& cfg, const json::object& req) {
  std::string model = StringField(req, "model");
  if (!ModelKnown(cfg.models, model)) {
    return OllamaError(404, "model \"" + model + "\" not found, try pulling it first");
  }
  bool stream = true;  // Ollama streams unless told otherwise
  if (auto* s = req.if_contains("stream"); s && s->is_bool()) stream = s->get_bool();
  std::string reply = ReplyFor(cfg, req);
  auto tokens = FakeLlmServer::Tokenize(reply);
  int64_t eval_count = static_cast<int64_t>(tokens.size());
  int64_t prompt_count = PromptWords(req);
  int64_t total_ns = static_cast<int64_t>(GenerationDelay(cfg, tokens.size())) * 1'000'000;
  json::object done{{"model", model},
                    {"created_at", NowRfc3339()},
                    {"message", json::object{{"role", "assistant"}, {"content", ""}}},
                    {"done_reason", "stop"},
                    {"done", true},
                    {"total_duration", total_ns},
                    {"load_duration", 1000},
                    {"prompt_eval_count", prompt_count},
                    {"prompt_eval_duration", 1000},
                    {"eval_count", eval_count},
                    {"eval_duration", total_ns}};
  if (!stream) {
    done["message"].as_object()["content"] = reply;
    Response r = JsonResponse(200, done);
    r.delay_ms = GenerationDelay(cfg, tokens.size());
    return r;
  }
  Response r;
  r.content_type = "application/x-ndjson";
  for (size_t i = 0; i < tokens.size(); ++i) {
    json::object line{{"model", model},
                      {"created_at", NowRfc3339()},
                      {"message", json::object{{"role", "assistant"}, {"content", tokens[i]}}},
                      {"done", false}};
    r.stream.push_back(
        Piece{"", json::serialize(line), "\n", true, i == 0 ? cfg.ttft_ms : cfg.token_delay_ms});
  }
  r.stream.push_back(
      Piece{"", json::serialize(done), "\n", false, tokens.empty() ? cfg.ttft_ms : 0});
  return r;
}

Response OpenAiChat(const Config& cfg, const json::object& req, uint64_t id) {
  std::string model = StringField(req, "model");
  if (!ModelKnown(cfg.models, model)) {
    return OpenAiError(404, "The model `" + model + "` does not exist.", "model_not_found");
  }
  bool stream = false;
  if (auto* s = req.if_contains("stream"); s && s->is_bool()) stream = s->get_bool();
  bool include_usage = false;
  if (auto* so = req.if_contains("stream_options"); so && so->is_object()) {
    if (auto* iu = so->get_object().if_contains("include_usage"); iu && iu->is_bool()) {
      include_usage = iu->get_bool();
    }
  }
  std::string reply = ReplyFor(cfg, req);
  auto tokens = FakeLlmServer::Tokenize(reply);
  int64_t completion = static_cast<int64_t>(tokens.size());
  int64_t prompt = PromptWords(req);
  json::object usage{{"prompt_tokens", prompt},
                     {"completion_tokens", completion},
                     {"total_tokens", prompt + completion}};
  std::string cid = "chatcmpl-fake-" + std::to_string(id);
  if (!stream) {
    json::object body{
        {"id", cid},
        {"object", "chat.completion"},
        {"created", NowUnix()},
        {"model", model},
        {"choices", json::array{json::object{
                        {"index", 0},
                        {"message", json::object{{"role", "assistant"}, {"content", reply}}},
                        {"finish_reason", "stop"}}}},
        {"usage", usage}};
    Response r = JsonResponse(200, body);
    r.delay_ms = GenerationDelay(cfg, tokens.size());
    return r;
  }
  Response r;
  r.content_type = "text/event-stream";
  auto chunk = [&](json::object delta, json::value finish) {
    return json::object{
        {"id", cid},
        {"object", "chat.completion.chunk"},
        {"created", NowUnix()},
        {"model", model},
        {"choices", json::array{json::object{
                        {"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}}}};
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    json::object delta{{"content", tokens[i]}};
    if (i == 0) delta["role"] = "assistant";
    r.stream.push_back(Piece{"data: ", json::serialize(chunk(std::move(delta), nullptr)), "\n\n",
                             true, i == 0 ? cfg.ttft_ms : cfg.token_delay_ms});
  }
  r.stream.push_back(Piece{"data: ", json::serialize(chunk(json::object{}, "stop")), "\n\n", false,
                           tokens.empty() ? cfg.ttft_ms : 0});
  if (include_usage) {
    json::object u{{"id", cid},      {"object", "chat.completion.chunk"}, {"created", NowUnix()},
                   {"model", model}, {"choices", json::array{}},          {"usage", usage}};
    r.stream.push_back(Piece{"data: ", json::serialize(u), "\n\n", false, 0});
  }
  r.stream.push_back(Piece{"data: [DONE]\n\n", "", "", false, 0});
  return r;
}

// Reads a string or array-of-strings field; false if it is neither.
bool StringList(const json::value* v, std::vector<std::string>* out) {
  if (v == nullptr) return false;
  if (v->is_string()) {
    out->emplace_back(v->get_string());
    return true;
  }
  if (!v->is_array()) return false;
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) return false;
    out->emplace_back(e.get_string());
  }
  return true;
}

Response OllamaEmbed(const Config& cfg, const json::object& req) {
  if (cfg.disable_embed_api) return PlainNotFound();
  std::string model = StringField(req, "model");
  if (!ModelKnown(cfg.models, model)) {
    return OllamaError(404, "model \"" + model + "\" not found, try pulling it first");
  }
  std::vector<std::string> inputs;
  if (!StringList(req.if_contains("input"), &inputs)) {
    return OllamaError(400, "invalid input type");
  }
  if (cfg.mode == FakeMode::kDropEmbedding && !inputs.empty()) inputs.pop_back();
  json::array embeddings;
  int64_t words = 0;
  for (const auto& text : inputs) {
    embeddings.emplace_back(EmbeddingJson(text, cfg));
    words += CountWords(text);
  }
  return JsonResponse(200, json::object{{"model", model},
                                        {"embeddings", std::move(embeddings)},
                                        {"total_duration", 1000},
                                        {"load_duration", 100},
                                        {"prompt_eval_count", words}});
}

Response OllamaEmbeddingsOld(const Config& cfg, const json::object& req) {
  std::string model = StringField(req, "model");
  if (!ModelKnown(cfg.models, model)) {
    return OllamaError(404, "model \"" + model + "\" not found, try pulling it first");
  }
  auto* prompt = req.if_contains("prompt");
  if (prompt == nullptr || !prompt->is_string()) return OllamaError(400, "prompt is required");
  json::array embedding;
  if (cfg.mode != FakeMode::kDropEmbedding) embedding = EmbeddingJson(prompt->get_string(), cfg);
  return JsonResponse(200, json::object{{"embedding", std::move(embedding)}});
}

Response OpenAiEmbeddings(const Config& cfg, const json::object& req) {
  std::string model = StringField(req, "model");
  if (!ModelKnown(cfg.models, model)) {
    return OpenAiError(404, "The model `" + model + "` does not exist.", "model_not_found");
  }
  std::vector<std::string> inputs;
  if (!StringList(req.if_contains("input"), &inputs)) {
    return OpenAiError(400, "'input' must be a string or an array of strings", "invalid_input");
  }
  if (cfg.mode == FakeMode::kDropEmbedding && !inputs.empty()) inputs.pop_back();
  json::array data;
  int64_t words = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    data.emplace_back(json::object{{"object", "embedding"},
                                   {"embedding", EmbeddingJson(inputs[i], cfg)},
                                   {"index", static_cast<int64_t>(i)}});
    words += CountWords(inputs[i]);
  }
  if (cfg.reverse_embedding_order) std::reverse(data.begin(), data.end());
  return JsonResponse(
      200,
      json::object{{"object", "list"},
                   {"data", std::move(data)},
                   {"model", model},
                   {"usage", json::object{{"prompt_tokens", words}, {"total_tokens", words}}}});
}

Response OllamaTags(const Config& cfg) {
  json::array models;
  for (size_t i = 0; i < cfg.models.size(); ++i) {
    const auto& name = cfg.models[i];
    char digest[17];
    std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(Fnv1a(name)));
    models.emplace_back(json::object{{"name", name},
                                     {"model", name},
                                     {"modified_at", "2025-01-01T00:00:00Z"},
                                     {"size", static_cast<int64_t>(1'000'000'000 + i)},
                                     {"digest", std::string(digest) + digest + digest + digest},
                                     {"details", ModelDetails()}});
  }
  return JsonResponse(200, json::object{{"models", std::move(models)}});
}

Response OllamaShow(const Config& cfg, const json::object& req) {
  std::string model = StringField(req, "model");
  if (model.empty()) model = StringField(req, "name");
  if (!ModelKnown(cfg.models, model)) {
    return OllamaError(404, "model '" + model + "' not found");
  }
  return JsonResponse(
      200, json::object{{"modelfile", "FROM " + model + "\n"},
                        {"parameters", "stop \"<|eot_id|>\""},
                        {"template", "{{ .Prompt }}"},
                        {"details", ModelDetails()},
                        {"model_info", json::object{{"general.architecture", "llama"},
                                                    {"llama.context_length", 131072},
                                                    {"llama.embedding_length",
                                                     static_cast<int64_t>(cfg.embed_dim)}}},
                        {"capabilities", json::array{"completion"}}});
}

Response OpenAiModels(const Config& cfg) {
  json::array data;
  for (const auto& name : cfg.models) {
    data.emplace_back(json::object{
        {"id", name}, {"object", "model"}, {"created", 1735689600}, {"owned_by", "fake"}});
  }
  return JsonResponse(200, json::object{{"object", "list"}, {"data", std::move(data)}});
}

}  // namespace

std::string ReasonPhrase(int status) {
  return std::string(
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status)));
}

Response OllamaError(int status, std::string message) {
  return JsonResponse(status, json::object{{"error", std::move(message)}});
}

Response Route(std::string_view method, std::string_view target, std::string_view request_body,
               const Config& cfg, uint64_t id) {
  std::string_view path = target.substr(0, target.find('?'));
  static const std::map<std::string_view, std::string_view, std::less<>> kRoutes = {
      {"/api/tags", "GET"},  {"/api/version", "GET"},          {"/api/show", "POST"},
      {"/api/chat", "POST"}, {"/api/embed", "POST"},           {"/api/embeddings", "POST"},
      {"/v1/models", "GET"}, {"/v1/chat/completions", "POST"}, {"/v1/embeddings", "POST"}};
  auto it = kRoutes.find(path);
  if (it == kRoutes.end()) return PlainNotFound();
  if (it->second != method) {
    Response r;
    r.status = 405;
    r.content_type = "text/plain";
    r.body = "405 method not allowed";
    r.body_is_json = false;
    return r;
  }
  if (method == "GET") {
    if (path == "/api/tags") return OllamaTags(cfg);
    if (path == "/api/version") return JsonResponse(200, json::object{{"version", "0.6.2-fake"}});
    return OpenAiModels(cfg);
  }
  bool openai = path.starts_with("/v1/");
  boost::system::error_code ec;
  json::value body = json::parse(request_body, ec);
  if (ec || !body.is_object()) {
    return openai ? OpenAiError(400, "request body is not a JSON object", "invalid_json")
                  : OllamaError(400, "invalid JSON body");
  }
  const json::object& o = body.get_object();
  if (path == "/api/chat") return OllamaChat(cfg, o);
  if (path == "/api/show") return OllamaShow(cfg, o);
  if (path == "/api/embed") return OllamaEmbed(cfg, o);
  if (path == "/api/embeddings") return OllamaEmbeddingsOld(cfg, o);
  if (path == "/v1/chat/completions") return OpenAiChat(cfg, o, id);
  return OpenAiEmbeddings(cfg, o);
}

}  // namespace jrvs::testing::fake_llm

namespace jrvs::testing {

std::vector<std::string> FakeLlmServer::Tokenize(std::string_view reply) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < reply.size()) {
    size_t start = i;
    while (i < reply.size() && std::isspace(static_cast<unsigned char>(reply[i]))) ++i;
    while (i < reply.size() && !std::isspace(static_cast<unsigned char>(reply[i]))) ++i;
    tokens.emplace_back(reply.substr(start, i - start));
  }
  return tokens;
}

std::vector<float> FakeLlmServer::FakeEmbedding(std::string_view text, size_t dim) {
  std::vector<float> v(dim);
  uint64_t h = fake_llm::Fnv1a(text);
  double norm = 0;
  for (size_t i = 0; i < dim; ++i) {
    uint64_t r = fake_llm::SplitMix64(h + i * 0x632be59bd9b4e019ull);
    // Uniform in [-1, 1); never all zero in practice.
    double x = static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
    v[i] = static_cast<float>(x);
    norm += x * x;
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (auto& x : v) x = static_cast<float>(x / norm);
  }
  return v;
}
}  // namespace jrvs::testing
