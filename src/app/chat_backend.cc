// The JSON half of the chat backends (shared by local and remote mode) and the remote backend.
#include "app/chat_backend.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include "llm/http_client.h"

namespace jrvs::app {

namespace json = boost::json;

namespace {

Result<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Error(StatusCode::kInternal,
                 fmt::format("unexpected reply (not a JSON object): {}", text.substr(0, 200)));
  }
  return std::move(v.as_object());
}

std::string Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

double Num(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->value().is_double()) return it->value().as_double();
  if (it->value().is_int64()) return static_cast<double>(it->value().as_int64());
  if (it->value().is_uint64()) return static_cast<double>(it->value().as_uint64());
  return 0;
}

const json::array* Arr(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_array() ? &it->value().as_array() : nullptr;
}

std::string FormatCount(double v) { return fmt::format("{}", static_cast<int64_t>(v)); }

std::string FormatBytes(double bytes) {
  if (bytes >= 1024.0 * 1024.0 * 1024.0) return fmt::format("{:.1f} GiB", bytes / (1 << 30));
  if (bytes >= 1024.0 * 1024.0) return fmt::format("{:.1f} MiB", bytes / (1 << 20));
  if (bytes >= 1024.0) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  return fmt::format("{} B", static_cast<int64_t>(bytes));
}

// RFC 3986 unreserved characters stay; everything else is %XX (a path segment or query value).
std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

Status ParseApiError(std::string_view text, int status) {
  StatusCode code = status == 0 ? StatusCode::kInternal : StatusCode::kUnavailable;
  if (status >= 400 && status < 500) code = StatusCode::kInvalidArgument;
  if (status == 404) code = StatusCode::kNotFound;
  std::string message = status == 0 ? std::string("error") : fmt::format("HTTP {}", status);
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_object()) {
    const json::object* err = nullptr;
    if (auto it = v.as_object().find("error"); it != v.as_object().end() && it->value().is_object())
      err = &it->value().as_object();
    if (err != nullptr) {
      std::string name = Str(*err, "code");
      for (int c = 0; c <= static_cast<int>(StatusCode::kDeadlineExceeded); ++c) {
        if (StatusCodeName(static_cast<StatusCode>(c)) == name) code = static_cast<StatusCode>(c);
      }
      if (std::string m = Str(*err, "message"); !m.empty()) message = std::move(m);
    }
  } else if (!text.empty()) {
    message += ": " + std::string(text.substr(0, 200));
  }
  if (code == StatusCode::kOk) code = StatusCode::kInternal;
  return Status(code, message);
}

Result<ChatReply> ParseChatReply(std::string_view text) {
  auto root = ParseObject(text);
  if (!root) return Error(root.error());
  ChatReply reply;
  reply.response = Str(*root, "response");
  reply.session_id = Str(*root, "session_id");
  reply.model_used = Str(*root, "model_used");
  reply.warning = Str(*root, "warning");
  if (auto t = root->find("timings"); t != root->end() && t->value().is_object()) {
    reply.total_ms = Num(t->value().as_object(), "total_ms");
  }
  if (const json::array* sources = Arr(*root, "sources")) {
    for (const auto& s : *sources) {
      if (!s.is_object()) continue;
      const auto& o = s.as_object();
      reply.sources.push_back({static_cast<int>(Num(o, "n")), Str(o, "title"), Str(o, "url")});
    }
  }
  return reply;
}

// --- ApiChatBackend ----------------------------------------------------------------------------

Result<std::string> ApiChatBackend::CallOk(const ApiCall& call) {
  auto reply = Call(call);
  if (!reply) return Error(reply.error());
  if (reply->status >= 400 || reply->status < 200) {
    return Error(ParseApiError(reply->body, reply->status));
  }
  return std::move(reply->body);
}

Result<ModelList> ApiChatBackend::Models() {
  auto body = CallOk({"GET", "/api/models", "/api/models", {}, {}, {}});
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  ModelList list;
  list.current = Str(*root, "current");
  list.warning = Str(*root, "warning");
  if (const json::array* models = Arr(*root, "models")) {
    for (const auto& m : *models) {
      if (!m.is_object()) continue;
      ModelEntry e{Str(m.as_object(), "name"), false};
      e.current = e.name == list.current;
      list.models.push_back(std::move(e));
    }
  }
  return list;
}

Result<std::string> ApiChatBackend::CurrentModel() {
  // /api/stats names the current model without asking the model server (which may be slow).
  auto body = CallOk({"GET", "/api/stats", "/api/stats", {}, {}, {}});
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  return Str(*root, "model");
}

Result<std::string> ApiChatBackend::SwitchModel(std::string_view name) {
  ApiCall call{"POST", "/api/models/switch/{name}",   "/api/models/switch/" + PercentEncode(name),
               {},     {{"name", std::string(name)}}, "{}"};
  auto body = CallOk(call);
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  return Str(*root, "current");
}

Result<std::vector<SearchHit>> ApiChatBackend::Search(std::string_view query, int limit) {
  ApiCall call{"GET",
               "/api/search",
               "/api/search",
               {{"query", std::string(query)}, {"limit", std::to_string(limit)}},
               {},
               {}};
  auto body = CallOk(call);
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  std::vector<SearchHit> hits;
  if (const json::array* results = Arr(*root, "results")) {
    for (const auto& r : *results) {
      if (!r.is_object()) continue;
      const auto& o = r.as_object();
      hits.push_back({Str(o, "title"), Str(o, "url"), Num(o, "similarity"), Str(o, "preview")});
    }
  }
  return hits;
}

Result<std::vector<std::pair<std::string, std::string>>> ApiChatBackend::Stats() {
  auto body = CallOk({"GET", "/api/stats", "/api/stats", {}, {}, {}});
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("documents", FormatCount(Num(*root, "documents")));
  rows.emplace_back("chunks", FormatCount(Num(*root, "chunks")));
  rows.emplace_back("conversations", FormatCount(Num(*root, "conversations")));
  rows.emplace_back("sessions", FormatCount(Num(*root, "sessions")));
  if (auto vs = root->find("vector_store"); vs != root->end() && vs->value().is_object()) {
    const auto& o = vs->value().as_object();
    rows.emplace_back("vectors", FormatCount(Num(o, "total_vectors")));
    rows.emplace_back("index type", Str(o, "index_type"));
  }
  rows.emplace_back("embedding dimension", FormatCount(Num(*root, "embedding_dimension")));
  rows.emplace_back("database size", FormatBytes(Num(*root, "database_size_bytes")));
  rows.emplace_back("model", Str(*root, "model"));
  return rows;
}

Result<std::vector<HistoryTurn>> ApiChatBackend::History(std::string_view session_id, int limit) {
  ApiCall call{"GET",
               "/api/history/{session_id}",
               "/api/history/" + PercentEncode(session_id),
               {{"limit", std::to_string(limit)}},
               {{"session_id", std::string(session_id)}},
               {}};
  auto body = CallOk(call);
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  std::vector<HistoryTurn> turns;
  if (const json::array* history = Arr(*root, "history")) {
    for (const auto& h : *history) {
      if (!h.is_object()) continue;
      const auto& o = h.as_object();
      turns.push_back({Str(o, "user_message"), Str(o, "ai_response"), Str(o, "model_used")});
    }
  }
  return turns;
}

Result<int64_t> ApiChatBackend::ClearHistory(std::string_view session_id) {
  ApiCall call{"DELETE",
               "/api/history/{session_id}",
               "/api/history/" + PercentEncode(session_id),
               {},
               {{"session_id", std::string(session_id)}},
               {}};
  auto body = CallOk(call);
  if (!body) return Error(body.error());
  auto root = ParseObject(*body);
  if (!root) return Error(root.error());
  return static_cast<int64_t>(Num(*root, "deleted"));
}

// --- remote ------------------------------------------------------------------------------------

namespace {

class RemoteChatBackend : public ApiChatBackend {
 public:
  RemoteChatBackend(std::string base_url, llm::HttpClientOptions http)
      : base_url_(std::move(base_url)), http_(std::move(http)) {}

  std::string description() const override { return "server " + base_url_; }

  Result<ChatReply> Chat(std::string_view message, std::string_view session_id,
                         const TokenSink& on_token, const std::atomic<bool>* cancel) override {
    std::string body = json::serialize(
        json::object{{"message", message}, {"session_id", session_id}, {"stream", true}});
    // SSE: "event: X" and "data: Y" lines, an empty line ends the event.
    std::string event, data;
    std::optional<ChatReply> done;
    std::optional<Status> failure;
    std::vector<ChatSource> sources;
    auto dispatch = [&]() -> bool {
      std::string name = event.empty() ? "message" : event;
      bool keep_going = true;
      if (name == "token") {
        auto o = ParseObject(data);
        if (o && !on_token(Str(*o, "content"))) keep_going = false;
      } else if (name == "sources") {
        if (auto r = ParseChatReply(data)) sources = std::move(r->sources);
      } else if (name == "done") {
        auto r = ParseChatReply(data);
        if (r) {
          done = std::move(*r);
        } else {
          failure = r.error();
        }
      } else if (name == "error") {
        failure = ParseApiError(data, 0);
      }
      event.clear();
      data.clear();
      return keep_going;
    };
    auto on_line = [&](std::string_view line) -> bool {
      if (cancel != nullptr && cancel->load()) return false;
      if (line.empty()) return dispatch();
      if (line.starts_with("event:")) {
        event = std::string(TrimLeadingSpace(line.substr(6)));
      } else if (line.starts_with("data:")) {
        if (!data.empty()) data.push_back('\n');
        data += TrimLeadingSpace(line.substr(5));
      }
      return true;
    };
    auto status = http_.PostStream(base_url_ + "/api/chat", body, {}, on_line, cancel);
    if (!status) return Error(status.error());
    if (!data.empty() || !event.empty()) dispatch();  // a last event without its blank line
    if (failure) return Error(*failure);
    if (!done) return Error(StatusCode::kUnavailable, "the server ended the answer early");
    if (done->sources.empty()) done->sources = std::move(sources);
    return std::move(*done);
  }

 protected:
  Result<ApiReply> Call(const ApiCall& call) override {
    std::string url = base_url_ + call.path;
    for (size_t i = 0; i < call.query.size(); ++i) {
      url += i == 0 ? '?' : '&';
      url += PercentEncode(call.query[i].first) + "=" + PercentEncode(call.query[i].second);
    }
    Result<llm::HttpResponse> response = Error(StatusCode::kInternal, "");
    if (call.method == "GET") {
      response = http_.Get(url);
    } else if (call.method == "POST") {
      response = http_.PostJson(url, call.body);
    } else if (call.method == "DELETE") {
      response = http_.Delete(url);
    } else {
      return Error(StatusCode::kInternal, fmt::format("unexpected method {}", call.method));
    }
    if (!response) return Error(response.error());
    return ApiReply{response->status, std::move(response->body)};
  }

 private:
  static std::string_view TrimLeadingSpace(std::string_view s) {
    return !s.empty() && s.front() == ' ' ? s.substr(1) : s;
  }

  std::string base_url_;
  llm::HttpClient http_;
};

}  // namespace

Result<std::unique_ptr<ChatBackend>> MakeRemoteChatBackend(const RemoteChatOptions& options) {
  std::string url = options.server_url;
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return Error(StatusCode::kInvalidArgument,
                 fmt::format("--server must be an http:// or https:// URL, got '{}'", url));
  }
  while (url.ends_with('/')) url.pop_back();
  llm::HttpClientOptions http;
  http.connect_timeout_ms = options.connect_timeout_ms;
  http.first_byte_timeout_ms = options.first_byte_timeout_ms;
  http.idle_gap_timeout_ms = options.idle_gap_timeout_ms;
  http.total_timeout_ms = options.total_timeout_ms;
  if (Status s = http.Validate(); !s.ok()) return Error(s);
  return std::unique_ptr<ChatBackend>(std::make_unique<RemoteChatBackend>(url, std::move(http)));
}

}  // namespace jrvs::app
