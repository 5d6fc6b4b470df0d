// The in-memory full-text copy (store/memory_fts.h): what it costs per ingested document
// (tokenizing a ~1 KB document and its three chunks with FTS5's tokenizer, appending the
// postings) and per query, beside FTS5's own query on the same rows in the same run; and what
// an index of real text holds in memory (BM_MemoryFtsRealTextMemory, given a file of text).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "store/fts_tokenizer.h"
#include "store/memory_fts.h"

namespace jrvs::store {
namespace {

// ~1 KB of English-like text drawn from a Zipfian vocabulary (fixed seed).
std::vector<std::string> MakeDocs(size_t n, size_t vocab_size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> vocab;
  for (size_t i = 0; i < vocab_size; ++i) {
    std::string w;
    for (size_t len = 3 + i % 7, k = 0; k < len; ++k)
      w += static_cast<char>('a' + (i * 7 + k * 13) % 26);
    vocab.push_back(w + std::to_string(i % 97));
  }
  std::vector<double> weights;
  for (size_t i = 0; i < vocab_size; ++i) weights.push_back(1.0 / static_cast<double>(i + 1));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::vector<std::string> docs;
  for (size_t d = 0; d < n; ++d) {
    std::string text;
    while (text.size() < 1000) text += vocab[pick(rng)] + (rng() % 12 == 0 ? ". " : " ");
    docs.push_back(text);
  }
  return docs;
}

void BM_MemoryFtsPrepareDocument(benchmark::State& state) {
  auto tokenizer = FtsTokenizer::Create();
  MemoryFts documents(2), chunks(1);
  auto docs = MakeDocs(256, 5000, 1);
  size_t i = 0;
  for (auto _ : state) {
    const std::string& text = docs[i++ % docs.size()];
    const std::string_view doc_columns[] = {"A title", text};
    benchmark::DoNotOptimize(documents.Prepare(**tokenizer, 1, 0, doc_columns));
    for (size_t c = 0; c < 3; ++c) {  // three ~400-byte chunks with overlap, as the chunker makes
      const std::string_view chunk[] = {std::string_view(text).substr(c * 300, 400)};
      benchmark::DoNotOptimize(chunks.Prepare(**tokenizer, 1, 0, chunk));
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryFtsPrepareDocument);

// Appending one prepared document and its three chunks, into indexes that grow as in an ingest.
void BM_MemoryFtsApplyDocument(benchmark::State& state) {
  auto tokenizer = FtsTokenizer::Create();
  MemoryFts documents(2), chunks(1);
  auto docs = MakeDocs(4096, 20000, 4);
  std::vector<MemoryFtsRow> doc_rows, chunk_rows;
  for (size_t d = 0; d < docs.size(); ++d) {
    const std::string_view columns[] = {"A title", docs[d]};
    doc_rows.push_back(*documents.Prepare(**tokenizer, 0, 0, columns));
    for (size_t c = 0; c < 3; ++c) {
      const std::string_view chunk[] = {std::string_view(docs[d]).substr(c * 300, 400)};
      chunk_rows.push_back(*chunks.Prepare(**tokenizer, 0, 0, chunk));
    }
  }
  int64_t id = 0;
  for (auto _ : state) {
    const size_t d = static_cast<size_t>(id) % docs.size();
    std::vector<MemoryFtsRow> doc{doc_rows[d]};
    doc[0].id = ++id;
    std::vector<MemoryFtsRow> parts(chunk_rows.begin() + static_cast<std::ptrdiff_t>(3 * d),
                                    chunk_rows.begin() + static_cast<std::ptrdiff_t>(3 * d + 3));
    for (size_t c = 0; c < 3; ++c) parts[c].id = id * 3 + static_cast<int64_t>(c);
    documents.Apply(std::move(doc), {});
    chunks.Apply(std::move(parts), {});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryFtsApplyDocument);

void BM_MemoryFtsSearch(benchmark::State& state) {
  auto tokenizer = FtsTokenizer::Create();
  MemoryFts documents(2);
  auto docs = MakeDocs(static_cast<size_t>(state.range(0)), 20000, 2);
  std::vector<MemoryFtsRow> rows;
  for (size_t d = 0; d < docs.size(); ++d) {
    const std::string_view columns[] = {"title", docs[d]};
    rows.push_back(*documents.Prepare(**tokenizer, static_cast<int64_t>(d + 1), 0, columns));
  }
  documents.Apply(std::move(rows), {});
  auto queries = MakeDocs(64, 20000, 3);
  std::vector<std::vector<std::string>> tokens;
  for (const auto& q : queries) {
    std::vector<std::string> t;
    (void)(*tokenizer)
        ->Tokenize(std::string_view(q).substr(0, 24), FtsTokenizer::Purpose::kQuery,
                   [&](std::string_view tok, size_t, size_t) { t.emplace_back(tok); });
    tokens.push_back(t);
  }
  const double weights[] = {2.0, 1.0};
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(documents.Search(tokens[i++ % tokens.size()], 20, weights));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryFtsSearch)->Arg(10000)->Arg(100000);

// Heap bytes in use (all arenas and mmapped blocks) and resident bytes of the process.
struct MemorySnapshot {
  double heap = 0;
  double rss = 0;
};
MemorySnapshot TakeMemorySnapshot() {
  malloc_trim(0);  // hand freed pages back, so that RSS shows what is still held
  struct mallinfo2 info = mallinfo2();
  MemorySnapshot m;
  m.heap = static_cast<double>(info.uordblks + info.hblkhd);
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  m.rss = static_cast<double>(resident) * 4096.0;
  return m;
}

// What a chunks-like index (one column) of real text holds: the first range(0) lines of the file
// named by JRVS_FTS_TEXT (one chunk per line, e.g. 512-byte windows of documentation), prepared
// and applied in batches of 1,024 as EnableMemoryFts() loads them, then Shrink(). Counters:
// distinct terms, postings, GetStats().bytes, and the growth of the heap in use and of the RSS
// over the load (the text itself is read before). Skipped when JRVS_FTS_TEXT is unset.
void BM_MemoryFtsRealTextMemory(benchmark::State& state) {
  const char* path = std::getenv("JRVS_FTS_TEXT");
  if (path == nullptr || *path == 0) {
    state.SkipWithError("JRVS_FTS_TEXT is not set (a file of text, one chunk per line)");
    return;
  }
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    for (std::string line;
         lines.size() < static_cast<size_t>(state.range(0)) && std::getline(in, line);) {
      lines.push_back(std::move(line));
    }
  }
  if (lines.empty()) {
    state.SkipWithError("JRVS_FTS_TEXT names an empty or unreadable file");
    return;
  }
  auto tokenizer = FtsTokenizer::Create();
  MemoryFtsStats stats;
  MemorySnapshot before, after;
  for (auto _ : state) {
    before = TakeMemorySnapshot();
    auto index = std::make_unique<MemoryFts>(1);
    std::vector<MemoryFtsRow> batch;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string_view columns[] = {lines[i]};
      auto id = static_cast<int64_t>(i + 1);
      batch.push_back(*index->Prepare(**tokenizer, id, id, columns));
      if (batch.size() == 1024 || i + 1 == lines.size()) {
        index->Apply(std::move(batch), {});
        batch.clear();
      }
    }
    index->Shrink();
    after = TakeMemorySnapshot();
    stats = index->GetStats();
  }
  const double terms = static_cast<double>(stats.terms);
  state.counters["rows"] = static_cast<double>(stats.live_rows);
  state.counters["terms"] = terms;
  state.counters["postings"] = static_cast<double>(stats.postings);
  state.counters["stats_bytes"] = static_cast<double>(stats.bytes);
  state.counters["heap_growth"] = after.heap - before.heap;
  state.counters["rss_growth"] = after.rss - before.rss;
  state.counters["stats_bytes_per_term"] = terms > 0 ? static_cast<double>(stats.bytes) / terms : 0;
}
BENCHMARK(BM_MemoryFtsRealTextMemory)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace jrvs::store
