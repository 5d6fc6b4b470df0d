// SqliteStore: the in-memory copies of the full-text indexes (store/memory_fts.h): building them,
// and keeping them in step with every committed write.
#include <algorithm>
#include <array>
#include <numeric>
#include <utility>

#include <spdlog/spdlog.h>

#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store/sqlite_writer.h"

namespace jrvs::store {
namespace {

constexpr const char kAllChunks[] = "SELECT id, document_id, text FROM chunks ORDER BY id";
constexpr const char kAllDocuments[] = "SELECT id, title, content FROM documents ORDER BY id";
constexpr size_t kBuildBatch = 1024;  // rows per Apply() while building

// Scans `sql` (id, parent or title, text columns...) into `index`, in batches.
Status Load(SqliteConnection& conn, const char* sql, bool chunks, FtsTokenizer& tokenizer,
            MemoryFts& index) {
  Result<SqliteStatement> stmt = conn.Prepare(sql);
  if (!stmt) return stmt.error();
  std::vector<MemoryFtsRow> batch;
  for (;;) {
    Result<bool> row = stmt->Step();
    if (!row) return row.error();
    if (*row) {
      Result<MemoryFtsRow> prepared =
          chunks ? index.Prepare(tokenizer, stmt->Int(0), stmt->Int(1),
                                 std::array<std::string_view, 1>{stmt->TextView(2)})
                 : index.Prepare(
                       tokenizer, stmt->Int(0), 0,
                       std::array<std::string_view, 2>{stmt->TextView(1), stmt->TextView(2)});
      if (!prepared) return prepared.error();
      batch.push_back(std::move(*prepared));
    }
    if (batch.size() >= kBuildBatch || (!*row && !batch.empty())) {
      index.Apply(std::move(batch), {});
      batch.clear();
    }
    if (!*row) return Status::Ok();
  }
}

}  // namespace

Status SqliteStore::EnableMemoryFts() {
  if (memory_fts_.load(std::memory_order_acquire)) return Status::Ok();
  // Built on the writer thread with no write in between, so nothing committed meanwhile is
  // missed; the flag turns on there too, so every later write's on_commit sees it.
  return writer_->RunExclusive([this](SqliteConnection& conn) -> Status {
    if (memory_fts_.load(std::memory_order_relaxed)) return Status::Ok();
    auto chunks = std::make_unique<MemoryFts>(1);
    auto documents = std::make_unique<MemoryFts>(2);
    if (Status s = Load(conn, kAllChunks, true, *tokenizer_, *chunks); !s.ok()) return s;
    if (Status s = Load(conn, kAllDocuments, false, *tokenizer_, *documents); !s.ok()) return s;
    chunks->Shrink();
    documents->Shrink();
    chunks_memory_ = std::move(chunks);
    documents_memory_ = std::move(documents);
    memory_fts_.store(true, std::memory_order_release);
    return Status::Ok();
  });
}

MemoryFtsStats SqliteStore::MemoryFtsChunkStats() const {
  return memory_fts_enabled() ? chunks_memory_->GetStats() : MemoryFtsStats{};
}

MemoryFtsStats SqliteStore::MemoryFtsDocumentStats() const {
  return memory_fts_enabled() ? documents_memory_->GetStats() : MemoryFtsStats{};
}

Result<SqliteStore::MemoryFtsRows> SqliteStore::PrepareMemoryFtsRows(
    const NewDocument& doc, const std::vector<NewChunk>& chunks) const {
  MemoryFtsRows rows;
  // Ids are not known yet: ApplyPutToMemoryFts sets them from the write's result.
  Result<MemoryFtsRow> document = documents_memory_->Prepare(
      *tokenizer_, 0, 0, std::array<std::string_view, 2>{doc.title, doc.content});
  if (!document) return Error(document.error());
  rows.document = std::move(*document);
  std::vector<size_t> order(chunks.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&chunks](size_t a, size_t b) {
    return chunks[a].chunk_index < chunks[b].chunk_index;
  });
  for (size_t i : order) {
    Result<MemoryFtsRow> chunk =
        chunks_memory_->Prepare(*tokenizer_, 0, 0, std::array<std::string_view, 1>{chunks[i].text});
    if (!chunk) return Error(chunk.error());
    rows.chunks.push_back(std::move(*chunk));
  }
  return rows;
}

void SqliteStore::ApplyPutToMemoryFts(const NewDocument& doc, const std::vector<NewChunk>& chunks,
                                      const PutDocumentResult& result,
                                      std::optional<MemoryFtsRows>& rows) {
  if (!memory_fts_.load(std::memory_order_acquire)) return;
  if (result.outcome == PutDocumentResult::Outcome::kUnchanged) return;
  if (!rows) {  // the copies were turned on after the caller looked
    Result<MemoryFtsRows> prepared = PrepareMemoryFtsRows(doc, chunks);
    if (!prepared) {
      // Cannot happen short of memory exhaustion; searching a stale copy would be wrong, so
      // fall back to FTS5 for good.
      spdlog::error("in-memory full-text index off: {}", prepared.error().message());
      memory_fts_.store(false, std::memory_order_release);
      return;
    }
    rows = std::move(*prepared);
  }
  rows->document.id = result.id;
  std::vector<MemoryFtsRow> document;
  document.push_back(std::move(rows->document));
  documents_memory_->Apply(std::move(document), {});
  const size_t n = std::min(rows->chunks.size(), result.chunk_ids.size());
  rows->chunks.resize(n);
  for (size_t i = 0; i < n; ++i) {
    rows->chunks[i].id = result.chunk_ids[i];
    rows->chunks[i].parent = result.id;
  }
  chunks_memory_->Apply(std::move(rows->chunks), result.removed_chunk_ids);
}

void SqliteStore::ApplyDeleteToMemoryFts(int64_t document_id,
                                         const std::vector<int64_t>& chunk_ids) {
  if (!memory_fts_.load(std::memory_order_acquire)) return;
  const int64_t ids[] = {document_id};
  documents_memory_->Apply({}, ids);
  chunks_memory_->Apply({}, chunk_ids);
}

Result<std::vector<std::string>> SqliteStore::QueryTokens(
    const std::vector<std::string>& terms) const {
  std::vector<std::string> tokens;
  for (const std::string& term : terms) {
    Status s = tokenizer_->Tokenize(
        term, FtsTokenizer::Purpose::kQuery,
        [&](std::string_view token, size_t, size_t) { tokens.emplace_back(token); });
    if (!s.ok()) return Error(std::move(s));
  }
  return tokens;
}

}  // namespace jrvs::store
