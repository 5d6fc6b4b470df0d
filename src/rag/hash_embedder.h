// HashEmbedder: the built-in embedder (DESIGN.md §5). No model files, no network: feature hashing
// of a text's words into a fixed-size vector. It is a lexical signal (like BM25 without IDF), not a
// semantic model: texts score high when they share (stemmed) words, word pairs or word fragments.
//
// Features, each family hashed into its own `dimension`-sized vector:
// - words: tokens (text::TokenStream: folded, lower-case) that are not stop words, Porter-stemmed
//   ("running" and "run" are one feature). Stop words are dropped — they made related texts score
//   lower and hurt retrieval on data/ir (see hash_embedder.cc) — unless a text has nothing but
//   stop words, in which case they are used so that such a text still has a signal;
// - bigrams: consecutive stemmed content words (stop words between them skipped);
// - char n-grams: byte n-grams of each content word wrapped as "<word>" (n = char_ngram), which
//   ties together morphological and spelling variants the stemmer misses.
// A feature's value is 1 + ln(tf) (sublinear term frequency). It is added to `probes` buckets:
// probe r uses h_r (h_0 = text::Hash64(feature bytes, family seed), h_{r+1} = text::Mix64(h_r +
// golden ratio constant)), bucket ((h_r mod 2^32) * dimension) >> 32, sign + or - from the top bit
// of h_r (signed hashing cancels collision bias). Fixed functions and seeds: vectors are identical
// on every machine and run. Each family vector is L2-normalised and scaled by its weight; the sum
// is L2-normalised. A text with no token at all (empty, only punctuation or symbols) gives the zero
// vector: it scores 0 against everything and callers treat it as "no signal".
//
// model() is "hash-v1-<dimension>" for the default weights; other weights append "-<8 hex digits>"
// of a hash of the options, so vectors made with different settings are never mixed.
//
// Thread safety: immutable after construction; Embed is thread-safe (per-thread scratch buffers,
// no per-token heap allocation once they have grown).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rag/embedder.h"

namespace jrvs::rag {

struct HashEmbedderOptions {
  // Floats per vector. Range 16..65536.
  size_t dimension = 384;
  // Relative weights of the feature families, each >= 0, at least one > 0. Defaults measured on
  // data/ir (see hash_embedder.cc).
  float word_weight = 1.0f;         // stemmed content words
  float bigram_weight = 0.1f;       // pairs of consecutive content words
  float char_ngram_weight = 0.75f;  // character n-grams of content words
  // Length of the character n-grams, in bytes. Range 2..6.
  size_t char_ngram = 3;
  // Buckets each feature is added to ("multiple hashing": a collision then only corrupts part of
  // a feature's signal). Range 1..8.
  size_t probes = 2;

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

class HashEmbedder final : public Embedder {
 public:
  // `options` must be valid (Validate()); invalid values are clamped into range.
  explicit HashEmbedder(HashEmbedderOptions options = {});

  std::string_view model() const override { return model_; }
  size_t dimension() const override { return options_.dimension; }
  // Never fails.
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts) override;

  // Writes the embedding of `text` into out[0, dimension()). Thread-safe.
  void EmbedInto(std::string_view text, float* out) const;

 private:
  HashEmbedderOptions options_;
  std::string model_;
};

}  // namespace jrvs::rag
