// FakeLlmServer: a real HTTP/1.1 server on loopback that imitates Ollama and OpenAI-compatible
// LLM servers, for client tests, end-to-end scripts and benchmarks (STYLE.md "Tests": fakes of
// external servers on 127.0.0.1 port 0).
//
// Routes (anything else answers 404 "404 page not found", a known path with the wrong method 405):
//   Ollama: GET /api/tags, GET /api/version, POST /api/show, POST /api/chat (NDJSON stream when
//           "stream" is true or absent, else one JSON object), POST /api/embed ("input" string or
//           array -> {"embeddings":[[...]]}), POST /api/embeddings (old API: "prompt" ->
//           {"embedding":[...]}).
//   OpenAI: GET /v1/models, POST /v1/chat/completions (SSE "data: {chunk}" lines then
//           "data: [DONE]" when "stream" is true, else a chat.completion with usage),
//           POST /v1/embeddings ({"data":[{"embedding","index"}],"model","usage"}).
// Chat, show and embedding requests name a model that must be in the model list (a missing
// ":latest" tag matches); otherwise the answer is 404 with the server's usual error JSON.
//
// The reply is split by Tokenize() into words with their leading whitespace; each is one token,
// sent after the time to first token (first token) or the per-token delay (later tokens). A
// "{last_user}" placeholder in the reply is replaced by the content of the last user message.
// Embeddings are FakeEmbedding(text, dim) * embed_scale: deterministic and, with the default scale
// 1, L2-normalised.
//
// Failure modes apply to every request that arrives while they are set (SetMode), or to the next
// N requests only (FailNext). Streams are sent with chunked transfer encoding; a client that
// disconnects mid-response is noticed (even while the server waits between tokens) and counted.
//
// Thread safety: every public method may be called from any thread while the server runs. The
// server runs its own io_context on `threads` threads. Stop() (also run by the destructor)
// returns promptly even with hanging requests: it stops the io_context and closes all sockets.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jrvs::testing {

enum class FakeMode {
  kNormal,
  kHttp500,        // 500 with {"error":"fake server error"}
  kHang,           // read the request, then never answer (until the client leaves or Stop())
  kTruncate,       // close the socket after truncate_after_tokens tokens (non-stream: mid-body)
  kMalformedJson,  // 200 with bodies / stream lines that are not valid JSON
  kSlowHeaders,    // send the response header one line at a time, slow_headers_ms apart
  kDropEmbedding,  // embedding responses hold one vector fewer than there were inputs
};

// Parses "normal", "500", "hang", "truncate", "malformed", "slow-headers", "drop-embedding".
bool ParseFakeMode(std::string_view name, FakeMode* mode);
std::string_view FakeModeName(FakeMode mode);

struct FakeLlmOptions {
  std::string host = "127.0.0.1";  // address to bind; tests keep loopback
  uint16_t port = 0;               // 0 = an ephemeral port, see FakeLlmServer::port()
  int threads = 1;                 // io_context threads, >= 1
  std::string reply = "Hello! I am a fake model, answering from the fake LLM server.";
  int ttft_ms = 0;         // delay before the first token (or the whole non-stream reply)
  int token_delay_ms = 0;  // delay before each later token
  std::vector<std::string> models = {"llama3.2:1b", "nomic-embed-text:latest"};
  size_t embed_dim = 16;     // embedding dimension, >= 1
  float embed_scale = 1.0f;  // embeddings are multiplied by this (to test normalisation)
  bool reverse_embedding_order = false;  // /v1/embeddings lists data[] in reverse index order
  bool disable_embed_api = false;        // /api/embed answers 404 (an Ollama older than 0.3)
  FakeMode mode = FakeMode::kNormal;
  int truncate_after_tokens = 2;     // kTruncate: tokens sent before the socket is closed
  int slow_headers_ms = 200;         // kSlowHeaders: delay between header lines
  size_t max_body_bytes = 64 << 20;  // request bodies above this answer 413
};

// One request as the server read it.
struct RecordedRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent, with any query
  std::string path;    // target without the query
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  // Value of the first header named `name` (lower case), or "" if absent.
  std::string Header(std::string_view name) const;
};

class FakeLlmServer {
 public:
  explicit FakeLlmServer(FakeLlmOptions options = {});
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  // Binds, listens and starts the io threads. Returns false (see error()) if the address cannot
  // be bound. Call once.
  bool Start();
  // Stops accepting, abandons every connection and joins the threads. Idempotent.
  void Stop();

  uint16_t port() const;         // the bound port once Start() succeeded
  std::string base_url() const;  // "http://127.0.0.1:<port>" (host as configured)
  std::string error() const;

  // Configuration, effective for requests that arrive afterwards.
  void SetReply(std::string reply);
  void SetTtftMs(int ms);
  void SetTokenDelayMs(int ms);
  void SetModels(std::vector<std::string> models);
  void SetEmbedDim(size_t dim);
  void SetEmbedScale(float scale);
  void SetReverseEmbeddingOrder(bool reverse);
  void SetDisableEmbedApi(bool disable);
  void SetMode(FakeMode mode);
  void SetTruncateAfterTokens(int tokens);
  void SetSlowHeadersMs(int ms);
  // The next `count` requests use `mode`; later ones use the mode set by SetMode again.
  void FailNext(FakeMode mode, int count);

  // Observations.
  std::vector<RecordedRequest> requests() const;
  size_t RequestCount(std::string_view path) const;  // requests whose path equals `path`
  void ClearRequests();
  int connections_accepted() const;  // TCP connections accepted since Start()
  int open_connections() const;
  int in_flight() const;           // requests read but not yet completely answered
  int max_in_flight() const;       // high-water mark of in_flight()
  int client_disconnects() const;  // responses abandoned because the client went away
  // Waits until client_disconnects() >= n; false on timeout.
  bool WaitForClientDisconnects(int n, std::chrono::milliseconds timeout) const;
  // Waits until in_flight() == 0; false on timeout.
  bool WaitForIdle(std::chrono::milliseconds timeout) const;

  // The tokens a reply is streamed as: words with their leading whitespace. Concatenated they
  // give back `reply`.
  static std::vector<std::string> Tokenize(std::string_view reply);
  // The deterministic unit-length embedding the server returns for `text` (before embed_scale).
  static std::vector<float> FakeEmbedding(std::string_view text, size_t dim);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::testing
