// Internal to the fake LLM server: the pure request -> response part (routes, JSON shapes,
// tokens, embeddings), kept apart from the socket handling in fake_llm_server.cc.
//
// Thread safety: plain functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/fake_llm_server.h"

namespace jrvs::testing::fake_llm {

// The per-request view of the configuration.
struct Config {
  std::string reply;
  int ttft_ms = 0;
  int token_delay_ms = 0;
  std::vector<std::string> models;
  size_t embed_dim = 16;
  float embed_scale = 1.0f;
  bool reverse_embedding_order = false;
  bool disable_embed_api = false;
  FakeMode mode = FakeMode::kNormal;
  int truncate_after_tokens = 2;
  int slow_headers_ms = 200;
};

// A response body given all at once, or a stream of pieces (one NDJSON line or SSE event each).
struct Piece {
  std::string prefix;  // e.g. "data: "
  std::string json;    // halved in kMalformedJson mode (an unbalanced prefix is never valid JSON)
  std::string suffix;  // "\n" or "\n\n"
  bool is_token = false;
  int delay_ms = 0;  // wait before sending this piece
};

struct Response {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  bool body_is_json = true;
  int delay_ms = 0;           // wait before the header (non-stream generation time)
  std::vector<Piece> stream;  // non-empty: chunked stream of pieces instead of body
};

// Answers one request. `id` numbers OpenAI completions ("chatcmpl-fake-<id>"). Failure modes
// that concern the transport (hang, truncation, slow headers, 500) are the server's business;
// kMalformedJson is applied by the server when it writes, kDropEmbedding here.
Response Route(std::string_view method, std::string_view target, std::string_view body,
               const Config& cfg, uint64_t id);

// {"error": message} with `status`, as Ollama reports errors.
Response OllamaError(int status, std::string message);

// "OK", "Not Found", ...
std::string ReasonPhrase(int status);

}  // namespace jrvs::testing::fake_llm
