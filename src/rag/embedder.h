// Embedder: the seam that turns texts into vectors (DESIGN.md §2, §5).
//
// Implementations: HashEmbedder (built in, default), the Ollama and OpenAI-compatible clients,
// and CachingEmbedder, which wraps any of them. Batch-shaped: one call embeds many texts.
//
// Contract for every implementation:
// - Embed returns exactly one vector per input text, in input order, each of dimension() floats
//   and L2-normalised (unit length), so the inner product is the cosine similarity. A text with
//   no signal at all (empty, or only punctuation, for the hash embedder) may yield the zero
//   vector; it scores 0 against everything, and callers treat it as "no signal".
// - model() names the model *and* anything that changes its vectors (version, dimension); it is
//   stored with each vector, and vectors of different models are never compared.
// - model() and dimension() are constant for the object's lifetime.
// - All methods are thread-safe: Embed may be called concurrently from several threads.
// - Expected failures (a remote model down, a bad response) are Status values, not exceptions.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jrvs::rag {

class Embedder {
 public:
  virtual ~Embedder() = default;

  // e.g. "hash-v1-384"; stored with each vector.
  virtual std::string_view model() const = 0;
  // Floats per vector.
  virtual size_t dimension() const = 0;
  // One L2-normalised vector per input, in order. Thread-safe.
  virtual Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) = 0;

  // Convenience for a single text (one batch of one).
  Result<std::vector<float>> EmbedOne(std::string_view text) {
    auto vectors = Embed(std::vector<std::string>{std::string(text)});
    if (!vectors) return Error(std::move(vectors.error()));
    if (vectors->size() != 1) {
      return Error(StatusCode::kInternal, "embedder returned a wrong number of vectors");
    }
    return std::move(vectors->front());
  }
};

// Inner product of two vectors of the same length (cosine similarity for unit vectors); the
// shorter length is used if they differ.
inline float DotProduct(std::span<const float> a, std::span<const float> b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace jrvs::rag
