#include "store/migrations.h"

#include <iterator>
#include <string>

#include "store/sqlite_connection.h"

namespace jrvs::store {
namespace {

// Ids of documents and chunks use AUTOINCREMENT so an id is never reused after a delete: the
// vector index is keyed by chunk id and catches up by "id greater than the highest I hold".
constexpr const char kV1Sql[] = R"sql(
CREATE TABLE documents (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  url           TEXT UNIQUE,
  title         TEXT NOT NULL DEFAULT '',
  content       TEXT NOT NULL,
  content_type  TEXT NOT NULL DEFAULT 'text/plain',
  content_hash  TEXT NOT NULL,
  metadata      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  last_accessed INTEGER NOT NULL
);
CREATE INDEX documents_content_hash ON documents(content_hash);
CREATE INDEX documents_created_at ON documents(created_at);

CREATE TABLE chunks (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id     INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  chunk_index     INTEGER NOT NULL,
  text            TEXT NOT NULL,
  embedding       BLOB,
  embedding_model TEXT,
  metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
);
-- Serves lookups by document_id (leftmost column) and keeps chunk_index unique per document.
CREATE UNIQUE INDEX chunks_document_id ON chunks(document_id, chunk_index);

-- Full-text index over chunk text; external content (the text lives once, in chunks). The
-- triggers keep it in the same transaction as every chunk write, including cascaded deletes.
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  text, content='chunks', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;

CREATE TABLE conversations (
  id           INTEGER PRIMARY KEY,
  session_id   TEXT NOT NULL,
  user_message TEXT NOT NULL,
  ai_response  TEXT NOT NULL,
  model_used   TEXT NOT NULL DEFAULT '',
  context_used TEXT NOT NULL DEFAULT '',
  sources      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
  created_at   INTEGER NOT NULL,
  latency_ms   REAL NOT NULL DEFAULT 0
);
CREATE INDEX conversations_session_created ON conversations(session_id, created_at);
-- Retention deletes by age.
CREATE INDEX conversations_created_at ON conversations(created_at);

CREATE TABLE models (
  name            TEXT PRIMARY KEY,
  usage_count     INTEGER NOT NULL DEFAULT 0,
  avg_response_ms REAL NOT NULL DEFAULT 0,
  last_used       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

// Document-level full-text index (title and content) for document search: BM25 over whole
// documents ranks them better than their best chunk does (bench/ir_eval.py, docs/PERFORMANCE.md).
constexpr const char kV2Sql[] = R"sql(
CREATE VIRTUAL TABLE documents_fts USING fts5(
  title, content, content='documents', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
  INSERT INTO documents_fts(rowid, title, content) VALUES (new.id, new.title, new.content);
END;
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
  INSERT INTO documents_fts(documents_fts, rowid, title, content)
    VALUES ('delete', old.id, old.title, old.content);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE OF title, content ON documents BEGIN
  INSERT INTO documents_fts(documents_fts, rowid, title, content)
    VALUES ('delete', old.id, old.title, old.content);
  INSERT INTO documents_fts(rowid, title, content) VALUES (new.id, new.title, new.content);
END;
INSERT INTO documents_fts(documents_fts) VALUES ('rebuild');
)sql";

// New rows' full-text entries are written by the store, in the same transaction, right after the
// row (sqlite_store_documents.cc): with an insert trigger writing a virtual table, every INSERT
// became a multi-table write that may abort, so SQLite opened a statement journal for it and
// FTS5 (3.40) flushed its pending terms at each of those savepoints: about half of the writer
// thread's time while ingesting (docs/PERFORMANCE.md, "Ingestion"). Updates and deletes, rare,
// keep their triggers (a delete needs the old text, which the trigger has).
constexpr const char kV3Sql[] = R"sql(
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER documents_fts_insert;
)sql";

constexpr Migration kMigrations[] = {
    {1, "documents, chunks with FTS5, conversations, models, settings", kV1Sql},
    {2, "document-level FTS5 over title and content", kV2Sql},
    {3, "full-text rows of inserted chunks and documents written by the store", kV3Sql},
};

}  // namespace

std::span<const Migration> AllMigrations() { return kMigrations; }

int LatestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Result<int> ApplyMigrations(SqliteConnection& conn, int64_t now_ms) {
  if (Status s = conn.Exec("BEGIN IMMEDIATE"); !s.ok()) return Error(std::move(s));
  auto fail = [&conn](Status status) -> Result<int> {
    (void)conn.Exec("ROLLBACK");  // the original error is what matters
    return Error(std::move(status));
  };
  Status s = conn.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  if (!s.ok()) return fail(std::move(s));
  Result<int64_t> current =
      conn.QueryInt("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!current) return fail(current.error());
  const int before = static_cast<int>(*current);
  if (before > LatestSchemaVersion()) {
    return fail(Status(StatusCode::kFailedPrecondition,
                       "database schema version " + std::to_string(before) +
                           " is newer than this binary supports (" +
                           std::to_string(LatestSchemaVersion()) + "); upgrade jrvs"));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= before) continue;
    s = conn.Exec(m.sql);
    if (!s.ok()) {
      return fail(Status(s.code(), "migration " + std::to_string(m.version) + ": " + s.message()));
    }
    s = conn.Exec("INSERT INTO schema_migrations(version, applied_at) VALUES (" +
                  std::to_string(m.version) + ", " + std::to_string(now_ms) + ")");
    if (!s.ok()) return fail(std::move(s));
  }
  if (s = conn.Exec("COMMIT"); !s.ok()) return fail(std::move(s));
  return before;
}

}  // namespace jrvs::store
