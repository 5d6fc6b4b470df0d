// LlmClient: the seam between jrvs and whatever writes the answers (DESIGN.md §6).
//
// Implementations: OllamaClient and OpenAiClient (remote servers, ollama_client.h and
// openai_client.h), ExtractiveClient (no model: sentences from the retrieved passages,
// extractive_client.h) and FallbackClient (a primary with the extractive client behind it,
// fallback_client.h).
//
// Contract shared by every implementation:
// - Calls block until done: run them on the server's slow pool, never on an I/O thread.
// - All methods may be called concurrently from any thread.
// - Chat streams the answer through `on_token` as it is produced, in order; the tokens
//   concatenated equal ChatResult::text. `on_token` may be empty (the answer is only returned).
//   `on_token` returning false, or `*cancel` becoming true, stops the call (and the upstream
//   request) promptly with kCancelled.
// - Failures are Status values: kUnavailable (server down, 5xx, stream cut short, circuit open),
//   kDeadlineExceeded (a timeout; the message names it), kInternal (a malformed response),
//   kNotFound (unknown model), kCancelled; other 4xx map as llm::HttpErrorStatus does.
//   A failed Chat may already have delivered tokens; the caller decides what to do with them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::llm {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatOptions {
  std::string model;                  // empty: the client's default model
  std::optional<double> temperature;  // sampling temperature, >= 0; unset: the server's default
  std::optional<int> num_ctx;         // context window in tokens (Ollama only); unset: default
  std::optional<int> max_tokens;      // cap on generated tokens; unset: the server's default
  std::string keep_alive;  // Ollama keep_alive ("5m", "-1", "0"); empty: the client's default
};

// One numbered retrieved passage: what a citation [n] refers to.
struct Passage {
  int n = 0;  // citation number, as used in the context given to the model
  std::string title;
  std::optional<std::string> url;
  std::string text;
};

struct ChatRequest {
  // The whole prompt for a model: system message with the numbered context, recent turns, and
  // the user's question last. LLM providers use only these.
  std::vector<ChatMessage> messages;
  ChatOptions options;
  // The user's question and the retrieved passages, for the extractive provider (which ignores
  // `messages` except to find the question when `query` is empty).
  std::string query;
  std::vector<Passage> passages;
};

struct ChatResult {
  std::string text;               // the whole answer (the streamed tokens concatenated)
  std::string model;              // the model that answered, as the server names it; "extractive"
  std::string done_reason;        // "stop", "length", ... as the server reports it
  int64_t prompt_tokens = 0;      // as reported by the server; 0 when unknown
  int64_t completion_tokens = 0;  // as reported; else the number of streamed tokens
  double time_to_first_token_ms = 0;  // from the call to the first token (total_ms if none)
  double total_ms = 0;                // the whole call, retries included
  int attempts = 0;                   // upstream requests made (1 + retries); 0 when none was made
  // Not empty when the answer is not what was asked for, e.g. the LLM was unavailable and the
  // knowledge base answered instead. Meant to be shown to the user.
  std::string warning;
};

// Receives each token of the answer as it is produced. Return false to cancel the call.
using TokenCallback = std::function<bool(std::string_view token)>;

struct ModelInfo {
  std::string name;          // e.g. "llama3.2:1b"
  int64_t size = 0;          // bytes on disk; 0 when unknown
  std::string modified_at;   // RFC 3339 as the server reports it; "" when unknown
  std::string details_json;  // a JSON object with what the server says about it; "{}" if nothing
};

struct HealthReport {
  bool ok = false;
  std::string detail;  // one line for /health: version, address, circuit state or the error
};

class LlmClient {
 public:
  virtual ~LlmClient() = default;

  // "ollama", "openai", "extractive", "auto".
  virtual std::string_view provider() const = 0;

  // The models the server offers.
  virtual Result<std::vector<ModelInfo>> ListModels() = 0;

  // What the server says about one model. The default looks it up in ListModels() (kNotFound
  // if absent); OllamaClient asks /api/show.
  virtual Result<ModelInfo> DescribeModel(std::string_view name);

  // Answers `request`, streaming tokens through `on_token` (see the file comment). `cancel` may
  // be null.
  virtual Result<ChatResult> Chat(const ChatRequest& request, const TokenCallback& on_token,
                                  const std::atomic<bool>* cancel) = 0;

  // Whether the backend can answer now. Cheap and bounded in time (a couple of seconds at most).
  virtual HealthReport Health() = 0;
};

}  // namespace jrvs::llm
