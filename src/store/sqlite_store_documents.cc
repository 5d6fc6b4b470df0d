// SqliteStore: documents, chunks and embeddings (full-text search: sqlite_store_search.cc).
#include <algorithm>
#include <numeric>
#include <utility>

#include "core/sha256.h"
#include "store/embedding_codec.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store/sqlite_store_metrics.h"
#include "store/sqlite_writer.h"

namespace jrvs::store {
namespace {

constexpr const char kFindByUrl[] = "SELECT id, content_hash FROM documents WHERE url = ?1";
constexpr const char kFindByHash[] =
    "SELECT id, content_hash FROM documents WHERE content_hash = ?1 ORDER BY id LIMIT 1";
constexpr const char kChunkIdsInIndexOrder[] =
    "SELECT id FROM chunks WHERE document_id = ?1 ORDER BY chunk_index";
constexpr const char kChunkIdsInIdOrder[] =
    "SELECT id FROM chunks WHERE document_id = ?1 ORDER BY id";
constexpr const char kInsertDocument[] =
    "INSERT INTO documents(url, title, content, content_type, content_hash, metadata, created_at,"
    " updated_at, last_accessed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7)";
constexpr const char kUpdateDocument[] =
    "UPDATE documents SET title = ?2, content = ?3, content_type = ?4, content_hash = ?5,"
    " metadata = ?6, updated_at = ?7 WHERE id = ?1";
constexpr const char kDeleteChunksOfDocument[] = "DELETE FROM chunks WHERE document_id = ?1";
constexpr const char kInsertChunk[] =
    "INSERT INTO chunks(document_id, chunk_index, text, embedding, embedding_model, metadata)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// Full-text rows of new rows (migration 3: no insert triggers); updates and deletes have triggers.
constexpr const char kInsertDocumentFts[] =
    "INSERT INTO documents_fts(rowid, title, content) VALUES (?1, ?2, ?3)";
constexpr const char kInsertChunkFts[] = "INSERT INTO chunks_fts(rowid, text) VALUES (?1, ?2)";
constexpr const char kDeleteDocument[] = "DELETE FROM documents WHERE id = ?1";
constexpr const char kGetDocument[] =
    "SELECT id, url, title, content, content_type, content_hash, metadata, created_at,"
    " updated_at, last_accessed FROM documents WHERE id = ?1";
constexpr const char kTouchDocument[] =
    "UPDATE documents SET last_accessed = max(last_accessed, ?2) WHERE id = ?1";
constexpr const char kListDocuments[] =
    "SELECT d.id, d.url, d.title, d.content_type, length(d.content),"
    " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id), d.created_at, d.updated_at"
    " FROM documents d ORDER BY d.created_at DESC, d.id DESC LIMIT ?1 OFFSET ?2";
constexpr const char kGetChunk[] =
    "SELECT c.id, c.document_id, c.chunk_index, c.text, d.title, d.url, c.metadata"
    " FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?1";
constexpr const char kChunkEmbeddings[] =
    "SELECT id, embedding_model, embedding FROM chunks WHERE id > ?1 ORDER BY id";
constexpr const char kStaleChunks[] =
    "SELECT id, text FROM chunks WHERE id > ?1 AND (embedding_model IS NULL OR "
    "embedding_model != ?2 OR embedding IS NULL) ORDER BY id";
constexpr const char kUpdateEmbedding[] =
    "UPDATE chunks SET embedding = ?2, embedding_model = ?3 WHERE id = ?1";
constexpr const char kMaxChunkId[] = "SELECT coalesce(max(id), 0) FROM chunks";

struct ExistingDocument {
  int64_t id = 0;
  std::string content_hash;
};

// The stored document a PutDocument of `doc` would replace: by URL when it has one, else by
// content hash.
Result<std::optional<ExistingDocument>> FindExisting(SqliteConnection& conn, const NewDocument& doc,
                                                     const std::string& hash) {
  Result<SqliteStatement> stmt = conn.Prepare(doc.url ? kFindByUrl : kFindByHash);
  if (!stmt) return Error(stmt.error());
  stmt->BindText(1, doc.url ? std::string_view(*doc.url) : std::string_view(hash));
  Result<bool> row = stmt->Step();
  if (!row) return Error(row.error());
  if (!*row) return std::optional<ExistingDocument>();
  return std::optional<ExistingDocument>(ExistingDocument{stmt->Int(0), stmt->Text(1)});
}

Result<std::vector<int64_t>> ChunkIds(SqliteConnection& conn, int64_t document_id,
                                      const char* sql) {
  Result<SqliteStatement> stmt = conn.Prepare(sql);
  if (!stmt) return Error(stmt.error());
  stmt->BindInt(1, document_id);
  std::vector<int64_t> ids;
  for (;;) {
    Result<bool> row = stmt->Step();
    if (!row) return Error(row.error());
    if (!*row) return ids;
    ids.push_back(stmt->Int(0));
  }
}

Status InsertChunks(SqliteConnection& conn, int64_t document_id,
                    const std::vector<NewChunk>& chunks, std::string_view embedding_model,
                    std::vector<int64_t>& ids_out) {
  // Insert in chunk_index order, so ids grow with the index and ids_out is in index order.
  std::vector<size_t> order(chunks.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&chunks](size_t a, size_t b) {
    return chunks[a].chunk_index < chunks[b].chunk_index;
  });
  std::string scratch;
  ids_out.clear();
  ids_out.reserve(chunks.size());
  for (size_t i : order) {
    const NewChunk& chunk = chunks[i];
    Result<SqliteStatement> stmt = conn.Prepare(kInsertChunk);
    if (!stmt) return stmt.error();
    stmt->BindInt(1, document_id)
        .BindInt(2, chunk.chunk_index)
        .BindText(3, chunk.text)
        .BindBlob(4, EncodeEmbedding(chunk.embedding, scratch))
        .BindText(6, JsonOr(chunk.metadata_json, "{}"));
    if (chunk.embedding.empty()) {
      stmt->BindNull(5);
    } else {
      stmt->BindText(5, embedding_model);
    }
    if (Status s = stmt->Run(); !s.ok()) return s;
    ids_out.push_back(conn.LastInsertRowId());
    Result<SqliteStatement> fts = conn.Prepare(kInsertChunkFts);
    if (!fts) return fts.error();
    fts->BindInt(1, ids_out.back()).BindText(2, chunk.text);
    if (Status s = fts->Run(); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

// ---- documents ----

Result<PutDocumentResult> SqliteStore::PutDocument(const NewDocument& doc,
                                                   const std::vector<NewChunk>& chunks,
                                                   std::string_view embedding_model) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kPutDocument);
  const std::string hash = Sha256Hex(doc.content);
  const std::string_view metadata = JsonOr(doc.metadata_json, "{}");
  const int64_t now = clock_->NowUnixMs();

  // Unchanged content is the common case of re-ingestion: answer it without the writer.
  {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return timer.Finish<PutDocumentResult>(Error(conn.error()));
    Result<std::optional<ExistingDocument>> existing = FindExisting(**conn, doc, hash);
    if (!existing) return timer.Finish<PutDocumentResult>(Error(existing.error()));
    if (*existing && (*existing)->content_hash == hash) {
      Result<std::vector<int64_t>> ids = ChunkIds(**conn, (*existing)->id, kChunkIdsInIndexOrder);
      if (!ids) return timer.Finish<PutDocumentResult>(Error(ids.error()));
      return timer.Finish<PutDocumentResult>(PutDocumentResult{
          .id = (*existing)->id,
          .outcome = PutDocumentResult::Outcome::kUnchanged,
          .chunk_ids = std::move(*ids),
          .removed_chunk_ids = {},
      });
    }
  }

  PutDocumentResult result;
  // Tokenized here, on the caller's thread, so the writer thread only appends postings.
  std::optional<MemoryFtsRows> memory_rows;
  if (memory_fts_enabled()) {
    Result<MemoryFtsRows> rows = PrepareMemoryFtsRows(doc, chunks);
    if (rows) memory_rows = std::move(*rows);  // else ApplyPutToMemoryFts tries again
  }
  auto on_commit = [&] { ApplyPutToMemoryFts(doc, chunks, result, memory_rows); };
  Status status = writer_->Write(
      [&](SqliteConnection& conn) -> Status {
        result = PutDocumentResult{};
        // Checked again: another writer may have stored it since the read above.
        Result<std::optional<ExistingDocument>> existing = FindExisting(conn, doc, hash);
        if (!existing) return existing.error();
        if (*existing && (*existing)->content_hash == hash) {
          result.id = (*existing)->id;
          result.outcome = PutDocumentResult::Outcome::kUnchanged;
          Result<std::vector<int64_t>> ids = ChunkIds(conn, result.id, kChunkIdsInIndexOrder);
          if (!ids) return ids.error();
          result.chunk_ids = std::move(*ids);
          return Status::Ok();
        }
        if (*existing) {  // same URL, new content: replace the document's fields and chunks
          result.id = (*existing)->id;
          result.outcome = PutDocumentResult::Outcome::kUpdated;
          Result<std::vector<int64_t>> removed = ChunkIds(conn, result.id, kChunkIdsInIdOrder);
          if (!removed) return removed.error();
          result.removed_chunk_ids = std::move(*removed);
          Result<SqliteStatement> del = conn.Prepare(kDeleteChunksOfDocument);
          if (!del) return del.error();
          del->BindInt(1, result.id);
          if (Status s = del->Run(); !s.ok()) return s;
          Result<SqliteStatement> update = conn.Prepare(kUpdateDocument);
          if (!update) return update.error();
          update->BindInt(1, result.id)
              .BindText(2, doc.title)
              .BindText(3, doc.content)
              .BindText(4, doc.content_type)
              .BindText(5, hash)
              .BindText(6, metadata)
              .BindInt(7, now);
          if (Status s = update->Run(); !s.ok()) return s;
        } else {
          result.outcome = PutDocumentResult::Outcome::kCreated;
          Result<SqliteStatement> insert = conn.Prepare(kInsertDocument);
          if (!insert) return insert.error();
          insert->BindOptionalText(1, doc.url)
              .BindText(2, doc.title)
              .BindText(3, doc.content)
              .BindText(4, doc.content_type)
              .BindText(5, hash)
              .BindText(6, metadata)
              .BindInt(7, now);
          if (Status s = insert->Run(); !s.ok()) return s;
          result.id = conn.LastInsertRowId();
          Result<SqliteStatement> fts = conn.Prepare(kInsertDocumentFts);
          if (!fts) return fts.error();
          fts->BindInt(1, result.id).BindText(2, doc.title).BindText(3, doc.content);
          if (Status s = fts->Run(); !s.ok()) return s;
        }
        return InsertChunks(conn, result.id, chunks, embedding_model, result.chunk_ids);
      },
      SqliteWriter::Atomicity::kRerunnable, on_commit);
  if (!status.ok()) return timer.Finish<PutDocumentResult>(Error(std::move(status)));
  return timer.Finish<PutDocumentResult>(std::move(result));
}

Result<std::optional<int64_t>> SqliteStore::FindDocumentByHash(std::string_view content_hash) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kFindDocumentByHash);
  auto run = [&]() -> Result<std::optional<int64_t>> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kFindByHash);
    if (!stmt) return Error(stmt.error());
    stmt->BindText(1, content_hash);
    Result<bool> row = stmt->Step();
    if (!row) return Error(row.error());
    if (!*row) return std::optional<int64_t>();
    return std::optional<int64_t>(stmt->Int(0));
  };
  return timer.Finish(run());
}

Result<Document> SqliteStore::GetDocument(int64_t id) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kGetDocument);
  auto run = [&]() -> Result<Document> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kGetDocument);
    if (!stmt) return Error(stmt.error());
    stmt->BindInt(1, id);
    Result<bool> row = stmt->Step();
    if (!row) return Error(row.error());
    if (!*row) return Error(StatusCode::kNotFound, "document " + std::to_string(id) + " not found");
    return Document{
        .id = stmt->Int(0),
        .url = stmt->OptionalText(1),
        .title = stmt->Text(2),
        .content = stmt->Text(3),
        .content_type = stmt->Text(4),
        .content_hash = stmt->Text(5),
        .metadata_json = stmt->Text(6),
        .created_at_ms = stmt->Int(7),
        .updated_at_ms = stmt->Int(8),
        .last_accessed_ms = stmt->Int(9),
    };
  };
  Result<Document> doc = run();
  if (doc) NoteAccess(id, clock_->NowUnixMs());
  return timer.Finish(std::move(doc));
}

void SqliteStore::NoteAccess(int64_t id, int64_t now_ms) {
  std::lock_guard lock(access_mu_);
  int64_t& last = pending_access_[id];
  last = std::max(last, now_ms);
  if (access_flush_queued_) return;
  // If the queue is full the accesses wait for a later one to schedule the flush.
  access_flush_queued_ =
      writer_->TryWriteDetached([this](SqliteConnection& conn) { return FlushAccesses(conn); });
}

Status SqliteStore::FlushAccesses(SqliteConnection& conn) {
  std::unordered_map<int64_t, int64_t> pending;
  {
    std::lock_guard lock(access_mu_);
    pending.swap(pending_access_);
    access_flush_queued_ = false;
  }
  for (const auto& [id, at_ms] : pending) {
    Result<SqliteStatement> stmt = conn.Prepare(kTouchDocument);
    if (!stmt) return stmt.error();
    stmt->BindInt(1, id).BindInt(2, at_ms);
    if (Status s = stmt->Run(); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<DocumentSummary>> SqliteStore::ListDocuments(int limit, int offset) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kListDocuments);
  auto run = [&]() -> Result<std::vector<DocumentSummary>> {
    if (offset < 0) return Error(StatusCode::kInvalidArgument, "offset must be >= 0");
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kListDocuments);
    if (!stmt) return Error(stmt.error());
    stmt->BindInt(1, limit > 0 ? limit : -1).BindInt(2, offset);
    std::vector<DocumentSummary> docs;
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return Error(row.error());
      if (!*row) return docs;
      docs.push_back(DocumentSummary{
          .id = stmt->Int(0),
          .url = stmt->OptionalText(1),
          .title = stmt->Text(2),
          .content_type = stmt->Text(3),
          .content_length = stmt->Int(4),
          .chunk_count = stmt->Int(5),
          .created_at_ms = stmt->Int(6),
          .updated_at_ms = stmt->Int(7),
      });
    }
  };
  return timer.Finish(run());
}

Result<std::vector<int64_t>> SqliteStore::DeleteDocument(int64_t id) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kDeleteDocument);
  std::vector<int64_t> deleted;
  Status status = writer_->Write(
      [&](SqliteConnection& conn) -> Status {
        Result<std::vector<int64_t>> ids = ChunkIds(conn, id, kChunkIdsInIdOrder);
        if (!ids) return ids.error();
        Result<SqliteStatement> stmt = conn.Prepare(kDeleteDocument);
        if (!stmt) return stmt.error();
        stmt->BindInt(1, id);
        if (Status s = stmt->Run(); !s.ok()) return s;
        // Chunks and their full-text rows go with the document (ON DELETE CASCADE + trigger).
        if (conn.Changes() == 0) {
          return Status(StatusCode::kNotFound, "document " + std::to_string(id) + " not found");
        }
        deleted = std::move(*ids);
        return Status::Ok();
      },
      SqliteWriter::Atomicity::kSavepoint, [&] { ApplyDeleteToMemoryFts(id, deleted); });
  if (!status.ok()) return timer.Finish<std::vector<int64_t>>(Error(std::move(status)));
  return timer.Finish<std::vector<int64_t>>(std::move(deleted));
}

// ---- chunks ----

Result<std::vector<ChunkView>> SqliteStore::GetChunks(const std::vector<int64_t>& chunk_ids) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kGetChunks);
  auto run = [&]() -> Result<std::vector<ChunkView>> {
    std::vector<ChunkView> views;
    views.reserve(chunk_ids.size());
    // A chunk deleted or never stored gives no row: skipped.
    Status s = ForEachKeyedRow(*readers_, kGetChunk, chunk_ids, [&](int64_t, SqliteStatement& row) {
      views.push_back(ChunkView{
          .chunk_id = row.Int(0),
          .document_id = row.Int(1),
          .chunk_index = static_cast<int>(row.Int(2)),
          .text = row.Text(3),
          .title = row.Text(4),
          .url = row.OptionalText(5),
          .metadata_json = row.Text(6),
      });
    });
    if (!s.ok()) return Error(std::move(s));
    return views;
  };
  return timer.Finish(run());
}

Status SqliteStore::ForEachChunkEmbedding(
    int64_t after_id, const std::function<bool(int64_t chunk_id, std::string_view model,
                                               const std::vector<float>& embedding)>& fn) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kForEachChunkEmbedding);
  auto run = [&]() -> Status {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return conn.error();
    Result<SqliteStatement> stmt = (*conn)->Prepare(kChunkEmbeddings);
    if (!stmt) return stmt.error();
    stmt->BindInt(1, after_id);
    std::vector<float> embedding;  // reused across rows
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return row.error();
      if (!*row) return Status::Ok();
      if (Status s = DecodeEmbedding(stmt->Blob(2), embedding); !s.ok()) {
        return Status(s.code(), "chunk " + std::to_string(stmt->Int(0)) + ": " + s.message());
      }
      if (!fn(stmt->Int(0), stmt->TextView(1), embedding)) return Status::Ok();
    }
  };
  return timer.Finish(run());
}

Status SqliteStore::ForEachStaleChunk(
    int64_t after_id, std::string_view model,
    const std::function<bool(int64_t chunk_id, std::string_view text)>& fn) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kForEachStaleChunk);
  auto run = [&]() -> Status {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return conn.error();
    Result<SqliteStatement> stmt = (*conn)->Prepare(kStaleChunks);
    if (!stmt) return stmt.error();
    stmt->BindInt(1, after_id).BindText(2, model);
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return row.error();
      if (!*row) return Status::Ok();
      if (!fn(stmt->Int(0), stmt->TextView(1))) return Status::Ok();
    }
  };
  return timer.Finish(run());
}

Status SqliteStore::UpdateChunkEmbeddings(const std::vector<int64_t>& chunk_ids,
                                          const std::vector<std::vector<float>>& embeddings,
                                          std::string_view model) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kUpdateChunkEmbeddings);
  if (chunk_ids.size() != embeddings.size()) {
    return timer.Finish(Status(StatusCode::kInvalidArgument, "ids and embeddings differ in count"));
  }
  Status status = writer_->Write([&](SqliteConnection& conn) -> Status {
    std::string scratch;
    for (size_t i = 0; i < chunk_ids.size(); ++i) {
      Result<SqliteStatement> stmt = conn.Prepare(kUpdateEmbedding);
      if (!stmt) return stmt.error();
      stmt->BindInt(1, chunk_ids[i])
          .BindBlob(2, EncodeEmbedding(embeddings[i], scratch))
          .BindText(3, model);
      if (Status s = stmt->Run(); !s.ok()) return s;
    }
    return Status::Ok();
  });
  return timer.Finish(std::move(status));
}

Result<int64_t> SqliteStore::MaxChunkId() {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kMaxChunkId);
  auto run = [&]() -> Result<int64_t> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kMaxChunkId);
    if (!stmt) return Error(stmt.error());
    Result<bool> row = stmt->Step();
    if (!row) return Error(row.error());
    return stmt->Int(0);
  };
  return timer.Finish(run());
}

}  // namespace jrvs::store
