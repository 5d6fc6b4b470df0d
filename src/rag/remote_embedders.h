// Remote embedders (DESIGN.md §5): the rag::Embedder seam over an embedding server's HTTP API.
//
// OllamaEmbedder: POST {base_url}/api/embed {"model","input":[texts]} in batches of batch_size.
//   An Ollama older than 0.3 has no /api/embed: when it answers 404 with no JSON error (a missing
//   route, not a missing model) the embedder switches, for good, to the old
//   POST {base_url}/api/embeddings {"model","prompt"}, one text per request.
// OpenAiEmbedder: POST {base_url}/v1/embeddings {"model","input":[texts]} in batches, with
//   "Authorization: Bearer <api_key>" when a key is set; results are put back in input order by
//   their "index".
//
// Both L2-normalise every vector they receive (a zero vector stays zero, per the Embedder
// contract), and check the response: one vector per text, each of dimension() finite floats;
// anything else is kInternal with a message naming the model and what was wrong. Transport
// failures keep HttpClient's codes (kUnavailable when the server is down, kDeadlineExceeded on a
// timeout); HTTP errors map through llm::HttpErrorStatus (404 kNotFound, 5xx kUnavailable, ...).
//
// dimension() is fixed for the object's lifetime (Embedder contract): Create() takes it from the
// options, or, when the options say 0, learns it by embedding one short probe text (so Create
// then needs the server up). model() is "ollama:<model>" / "openai:<model>".
//
// Thread safety: Embed may be called concurrently from several threads (the HTTP client pools
// connections; the only mutable state is an atomic flag). Calls block on network I/O: run them on
// the compute or I/O pool, never on a server I/O thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "llm/http_client.h"
#include "rag/embedder.h"

namespace jrvs::rag {

struct OllamaEmbedderOptions {
  std::string base_url = "http://127.0.0.1:11434";  // server root, e.g. http://host:11434
  std::string model = "nomic-embed-text";           // as Ollama names it
  size_t batch_size = 32;                           // texts per /api/embed request, 1..4096
  size_t dimension = 0;         // floats per vector; 0 = learn it at Create() with a probe request
  std::string keep_alive;       // Ollama "keep_alive" ("5m", "-1"); empty = the server's default
  llm::HttpClientOptions http;  // timeouts and limits of the HTTP calls

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

struct OpenAiEmbedderOptions {
  std::string base_url = "http://127.0.0.1:1234";  // server root; a trailing "/v1" is accepted
  std::string model = "text-embedding-nomic-embed-text-v1.5";
  std::string api_key;          // sent as a bearer token when not empty; never logged
  size_t batch_size = 64;       // texts per /v1/embeddings request, 1..4096
  size_t dimension = 0;         // floats per vector; 0 = learn it at Create() with a probe request
  llm::HttpClientOptions http;  // timeouts and limits of the HTTP calls

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

class OllamaEmbedder final : public Embedder {
 public:
  // Validates `options`; if options.dimension is 0, embeds a probe text to learn the dimension
  // (failing with the server's Status if that does not work).
  static Result<std::unique_ptr<OllamaEmbedder>> Create(OllamaEmbedderOptions options);

  std::string_view model() const override { return model_name_; }
  size_t dimension() const override { return dimension_; }
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override;

  // True once the server turned out to lack /api/embed and /api/embeddings is used instead.
  bool uses_legacy_api() const { return legacy_.load(std::memory_order_relaxed); }

 private:
  OllamaEmbedder(OllamaEmbedderOptions options, size_t dimension);
  // Embeds `texts` (one batch) and checks against `dimension` (0 = any one dimension).
  Result<std::vector<std::vector<float>>> EmbedBatch(const std::vector<std::string>& texts,
                                                     size_t dimension);
  Result<std::vector<float>> EmbedLegacy(const std::string& text, size_t dimension);

  const OllamaEmbedderOptions options_;
  const std::string model_name_;  // "ollama:<model>"
  size_t dimension_;              // set once by Create()
  llm::HttpClient http_;
  std::atomic<bool> legacy_{false};
};

class OpenAiEmbedder final : public Embedder {
 public:
  // Validates `options`; if options.dimension is 0, embeds a probe text to learn the dimension.
  static Result<std::unique_ptr<OpenAiEmbedder>> Create(OpenAiEmbedderOptions options);

  std::string_view model() const override { return model_name_; }
  size_t dimension() const override { return dimension_; }
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override;

 private:
  OpenAiEmbedder(OpenAiEmbedderOptions options, size_t dimension);
  Result<std::vector<std::vector<float>>> EmbedBatch(const std::vector<std::string>& texts,
                                                     size_t dimension);

  const OpenAiEmbedderOptions options_;
  const std::string model_name_;  // "openai:<model>"
  const std::string url_;         // .../v1/embeddings
  size_t dimension_;              // set once by Create()
  llm::HttpClient http_;
};

}  // namespace jrvs::rag
