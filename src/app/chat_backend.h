// ChatBackend: what `jrvs chat` talks to, behind one interface so the REPL (app/chat_repl.h) is
// the same for both modes:
//   local   (MakeLocalChatBackend)  opens the Runtime on the data directory (knowledge + chat) and
//           calls ChatService directly, tokens through a callback; the other commands go through
//           the same api/ handlers `jrvs serve` routes to, in process.
//   remote  (MakeRemoteChatBackend) a running `jrvs serve` over HTTP with llm::HttpClient:
//           POST /api/chat with stream:true (SSE events token, sources, done, error) and the
//           JSON routes for the slash commands.
// Both modes read the same JSON (ApiChatBackend parses it once), so what the REPL shows cannot
// drift between them.
//
// Local mode must not run on a data directory a `jrvs serve` is using at the same time (as with
// `jrvs ingest`): use --server then.
//
// Thread safety: none; one REPL thread calls a backend. `cancel` may be set from any thread or a
// signal handler (it is a lock-free atomic).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/config.h"
#include "core/status.h"

namespace jrvs::app {

struct ChatSource {
  int n = 0;  // the number the answer cites as [n]
  std::string title;
  std::string url;  // "" when the document has none
};

struct ChatReply {
  std::string response;
  std::string session_id;
  std::string model_used;
  std::vector<ChatSource> sources;
  std::string warning;  // e.g. the model was down and the extractive fallback answered
  double total_ms = 0;
};

struct ModelEntry {
  std::string name;
  bool current = false;
};

struct ModelList {
  std::vector<ModelEntry> models;
  std::string current;
  std::string warning;  // why the list is empty (model server down), else ""
};

struct SearchHit {
  std::string title;
  std::string url;
  double score = 0;  // similarity as /api/search reports it
  std::string preview;
};

struct HistoryTurn {
  std::string user_message;
  std::string ai_response;
  std::string model_used;
};

// Receives the answer as it is generated; return false to stop it.
using TokenSink = std::function<bool(std::string_view token)>;

class ChatBackend {
 public:
  virtual ~ChatBackend() = default;

  // "local data in ./data" or "server http://127.0.0.1:8000", for the banner.
  virtual std::string description() const = 0;

  // One turn in `session_id`. A set `cancel` (or on_token returning false) ends it with
  // kCancelled; the turn is then not stored.
  virtual Result<ChatReply> Chat(std::string_view message, std::string_view session_id,
                                 const TokenSink& on_token, const std::atomic<bool>* cancel) = 0;
  virtual Result<ModelList> Models() = 0;
  virtual Result<std::string> CurrentModel() = 0;
  // Returns the model now current; an unknown name is kInvalidArgument with the server's text.
  virtual Result<std::string> SwitchModel(std::string_view name) = 0;
  virtual Result<std::vector<SearchHit>> Search(std::string_view query, int limit) = 0;
  // (label, value) rows for /stats, in display order.
  virtual Result<std::vector<std::pair<std::string, std::string>>> Stats() = 0;
  // The newest `limit` turns of the session, oldest first.
  virtual Result<std::vector<HistoryTurn>> History(std::string_view session_id, int limit) = 0;
  // Deletes the session's stored turns; returns how many.
  virtual Result<int64_t> ClearHistory(std::string_view session_id) = 0;
};

// One call of the JSON API: `route` is the pattern as registered by `jrvs serve` (local mode
// dispatches on it), `path` the concrete path (remote mode sends it).
struct ApiCall {
  std::string method;                                      // "GET", "POST", "DELETE"
  std::string route;                                       // e.g. "/api/history/{session_id}"
  std::string path;                                        // e.g. "/api/history/s1"
  std::vector<std::pair<std::string, std::string>> query;  // not yet encoded
  std::map<std::string, std::string> path_params;
  std::string body;  // JSON, for POST
};

struct ApiReply {
  int status = 0;
  std::string body;
};

// Everything but Chat() on top of the JSON API: subclasses only move ApiCalls. Errors: a 4xx/5xx
// reply becomes the Status named by its {"error":{"code","message"}} body; a body that is not
// the expected JSON is kInternal.
class ApiChatBackend : public ChatBackend {
 public:
  Result<ModelList> Models() override;
  Result<std::string> CurrentModel() override;
  Result<std::string> SwitchModel(std::string_view name) override;
  Result<std::vector<SearchHit>> Search(std::string_view query, int limit) override;
  Result<std::vector<std::pair<std::string, std::string>>> Stats() override;
  Result<std::vector<HistoryTurn>> History(std::string_view session_id, int limit) override;
  Result<int64_t> ClearHistory(std::string_view session_id) override;

 protected:
  virtual Result<ApiReply> Call(const ApiCall& call) = 0;

 private:
  // Calls and parses the JSON object body of a 2xx reply, or the error body of another.
  Result<std::string> CallOk(const ApiCall& call);
};

// Parses the JSON of a chat answer (POST /api/chat, or the SSE `done` event).
Result<ChatReply> ParseChatReply(std::string_view json);
// The Status an error body {"error":{"code","message"}} (or SSE `error` event data) names;
// `status` (HTTP, 0 if none) picks the code when the body has none.
Status ParseApiError(std::string_view json, int status);

struct RemoteChatOptions {
  std::string server_url;             // http(s)://host:port of a running `jrvs serve`, required
  int connect_timeout_ms = 5000;      // TCP connect, ms
  int first_byte_timeout_ms = 60000;  // request sent -> first response byte, ms
  // A local model may think for a long time between tokens (or load for minutes first).
  int idle_gap_timeout_ms = 600000;  // ms between received bytes
  int total_timeout_ms = 3600000;    // one whole call, ms
};

// kInvalidArgument for a URL that is not http(s)://.
Result<std::unique_ptr<ChatBackend>> MakeRemoteChatBackend(const RemoteChatOptions& options);

// Opens the data directory of `config` (database, index, LLM client, chat service).
Result<std::unique_ptr<ChatBackend>> MakeLocalChatBackend(const Config& config);

}  // namespace jrvs::app
