// Text processing benchmarks: sentence splitting, tokenising, stemming, chunking, the built-in hash
// embedder and the embedding cache hit path. Input is a synthetic English-like corpus from a fixed
// seed (Zipf-distributed pseudo-words, sentences of 4-30 words, abbreviations, decimals,
// paragraphs), so runs are comparable across machines and commits.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/text.h"
#include "rag/chunker.h"
#include "rag/embedding_cache.h"
#include "rag/hash_embedder.h"

namespace {

using jrvs::rag::CachingEmbedder;
using jrvs::rag::ChunkerOptions;
using jrvs::rag::HashEmbedder;

std::string MakeCorpus(size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  // Vocabulary: common English words first (most frequent under Zipf), then pseudo-words.
  std::vector<std::string> vocab = {"the",  "of",    "and",   "to",     "a",       "in",
                                    "is",   "that",  "for",   "it",     "with",    "as",
                                    "on",   "was",   "by",    "system", "data",    "server",
                                    "user", "query", "model", "search", "index",   "document",
                                    "file", "time",  "value", "result", "process", "network"};
  const std::vector<std::string> syllables = {"ka",  "lo",  "mi", "ner", "tion", "pre",
                                              "ste", "ing", "al", "ver", "con",  "ra",
                                              "de",  "ous", "ti", "um"};
  while (vocab.size() < 3000) {
    std::string w;
    int n = 1 + int(rng() % 4);
    for (int i = 0; i < n; ++i) w += syllables[rng() % syllables.size()];
    vocab.push_back(w);
  }
  std::vector<double> weights(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) weights[i] = 1.0 / double(i + 1);
  std::discrete_distribution<size_t> zipf(weights.begin(), weights.end());
  const std::vector<std::string> extras = {"e.g.",        "Dr.",   "3.14", "U.S.",
                                           "(see below)", "1,024", "i.e.", "café"};

  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    int sentences = 3 + int(rng() % 6);
    for (int s = 0; s < sentences; ++s) {
      int words = 4 + int(rng() % 27);
      for (int w = 0; w < words; ++w) {
        std::string word = (rng() % 40 == 0) ? extras[rng() % extras.size()] : vocab[zipf(rng)];
        if (w == 0 && word[0] >= 'a' && word[0] <= 'z') word[0] = char(word[0] - 32);
        out += word;
        if (w + 1 < words) out += (rng() % 12 == 0) ? ", " : " ";
      }
      out += "..?!."[rng() % 5 == 0 ? 1 + rng() % 3 : 0];
      out += ' ';
    }
    out += "\n\n";
  }
  return out;
}

const std::string& Corpus() {
  static const std::string corpus = MakeCorpus(1 << 20, 42);  // 1 MiB
  return corpus;
}

const std::vector<std::string>& Chunks512() {
  static const std::vector<std::string> chunks = [] {
    std::vector<std::string> out;
    for (auto& c : jrvs::rag::ChunkText(Corpus(), ChunkerOptions{})) out.push_back(c.text);
    return out;
  }();
  return chunks;
}

void BM_SplitSentences(benchmark::State& state) {
  const std::string& corpus = Corpus();
  for (auto _ : state) benchmark::DoNotOptimize(jrvs::text::SplitSentences(corpus));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(corpus.size()));
}
BENCHMARK(BM_SplitSentences)->Unit(benchmark::kMillisecond);

void BM_ChunkText(benchmark::State& state) {
  const std::string& corpus = Corpus();
  ChunkerOptions options;
  options.max_chars = size_t(state.range(0));
  options.overlap_chars = options.max_chars / 8;
  size_t chunks = 0;
  for (auto _ : state) {
    auto out = jrvs::rag::ChunkText(corpus, options);
    chunks = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(corpus.size()));
  state.counters["chunks"] = double(chunks);
}
BENCHMARK(BM_ChunkText)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond);

void BM_TokenStream(benchmark::State& state) {
  const std::string& corpus = Corpus();
  std::string token;
  for (auto _ : state) {
    jrvs::text::TokenStream tokens(corpus);
    size_t n = 0;
    while (tokens.Next(&token)) ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(corpus.size()));
}
BENCHMARK(BM_TokenStream)->Unit(benchmark::kMillisecond);

void BM_PorterStem(benchmark::State& state) {
  std::vector<std::string> words = jrvs::text::Tokenize(Corpus().substr(0, 64 << 10));
  std::string scratch;
  for (auto _ : state) {
    for (const auto& w : words) {
      scratch = w;
      jrvs::text::PorterStemInPlace(&scratch);
      benchmark::DoNotOptimize(scratch.data());
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(words.size()));
}
BENCHMARK(BM_PorterStem);

// One 512-byte chunk at a time into a caller buffer: the embedder's own cost.
void BM_HashEmbedChunk(benchmark::State& state) {
  const auto& chunks = Chunks512();
  HashEmbedder embedder;
  std::vector<float> v(embedder.dimension());
  size_t i = 0;
  for (auto _ : state) {
    embedder.EmbedInto(chunks[i], v.data());
    benchmark::DoNotOptimize(v.data());
    if (++i == chunks.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations()) * 512);
}
BENCHMARK(BM_HashEmbedChunk);

// Batches of 32 chunks through the Embedder interface (allocates the result vectors).
void BM_HashEmbedBatch32(benchmark::State& state) {
  const auto& chunks = Chunks512();
  HashEmbedder embedder;
  std::vector<std::string> batch(chunks.begin(), chunks.begin() + 32);
  for (auto _ : state) benchmark::DoNotOptimize(embedder.Embed(batch));
  state.SetItemsProcessed(int64_t(state.iterations()) * 32);
}
BENCHMARK(BM_HashEmbedBatch32);

// Cache hit path: batches of 32 texts that are all cached (1,000 entries warm).
void BM_CacheHitBatch32(benchmark::State& state) {
  const auto& chunks = Chunks512();
  CachingEmbedder cache(std::make_unique<HashEmbedder>(), jrvs::rag::EmbeddingCacheOptions{});
  std::vector<std::string> warm(chunks.begin(), chunks.begin() + 1000);
  if (!cache.Embed(warm)) state.SkipWithError("warm-up failed");
  std::vector<std::vector<std::string>> batches;
  for (size_t b = 0; b + 32 <= warm.size(); b += 32) {
    batches.emplace_back(warm.begin() + b, warm.begin() + b + 32);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Embed(batches[i]));
    if (++i == batches.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 32);
  state.counters["hit_ratio"] = double(cache.hits()) / double(cache.hits() + cache.misses());
}
BENCHMARK(BM_CacheHitBatch32);

}  // namespace
