// SqliteStore: the default Store backend, one SQLite file in WAL mode (DESIGN.md §3, §4).
//
// Writes go through one writer connection owned by a writer thread and fed by a bounded queue
// (SqliteWriter). The thread takes up to `max_batch_ops` queued writes and commits them in one
// transaction (group commit), each in its own SAVEPOINT so a failing write fails alone. A write
// method returns once its transaction has committed; with synchronous=NORMAL in WAL mode that
// survives kill -9 of the process (a power cut may lose the last commits). When the queue is
// full a write fails at once with kUnavailable. Timestamps (created_at, updated_at) are taken
// from the Clock when the caller submits the write. Batching adapts to load: a lone write is
// committed at once; under concurrent writes the writer may wait up to `group_commit_window_us`
// to gather a larger transaction. Completed callers are woken as a tree (the writer wakes one,
// each woken caller wakes two more), so the writer thread is not busy with thread wake-ups.
//
// Checkpoints: once the WAL reaches `wal_autocheckpoint_pages`, a background thread with its own
// connection copies it into the database file (PASSIVE, beside ongoing writes), and the writer
// thread then copies the few frames written meanwhile between two transactions, so the WAL
// restarts (SqliteCheckpointer). The writer thread no longer does the bulk of that I/O.
//
// Reads use a pool of reader connections (query_only). A read borrows an idle connection, or
// opens one when none is idle, runs on the calling thread and gives it back; at most
// `max_idle_readers` stay open, each with its own prepared-statement cache. This gives every
// thread that reads concurrently its own connection, as a per-thread connection would, without
// thread-local state that could outlive the store (stores are destroyed and re-created freely on
// any thread), and a read made from inside a ForEachChunkEmbedding callback simply borrows a
// second connection. Borrowing costs one uncontended mutex lock.
//
// Thread safety: every method is safe to call concurrently from any thread (including from inside
// a ForEachChunkEmbedding callback). Destroying the store while calls are in flight is not
// allowed; the destructor commits the writes already queued, runs PRAGMA optimize and closes the
// database. Ownership: the store owns its connections and thread; `metrics` and `clock` given to
// Open are borrowed and must outlive it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"
#include "store/fts_planner.h"
#include "store/fts_tokenizer.h"
#include "store/memory_fts.h"
#include "store/store.h"

namespace jrvs::store {

class SqliteCheckpointer;
class SqliteConnection;
class SqliteReaderPool;
class SqliteStatement;
class SqliteWriter;
struct SqliteStoreMetrics;
enum class DbOp : size_t;

struct SqliteOptions {
  // Database file. Missing parent directories are created. The WAL (`<path>-wal`) and its index
  // (`<path>-shm`) live beside it. ":memory:" is not supported (readers need the file).
  std::string path = "data/jrvs.db";
  // How long a connection waits for a lock held by another process before failing with
  // kUnavailable, in milliseconds (>= 0).
  int busy_timeout_ms = 5000;
  // Writes accepted but not yet taken by the writer thread (>= 1). When it is full, writes fail
  // at once with kUnavailable rather than wait.
  size_t write_queue_capacity = 4096;
  // Most writes committed in one transaction (>= 1). Larger batches amortise the commit; one
  // slow write delays the others of its batch.
  size_t max_batch_ops = 512;
  // How long the writer may wait to gather more writes into its next transaction, in
  // microseconds ([0, 100000]; 0: never wait). Right after a transaction of n writes, during
  // which q more were queued, it waits for n + q (those callers tend to write again). Trades at
  // most this much latency for fewer, larger commits under concurrent load; a lone write never
  // waits.
  int group_commit_window_us = 100;
  // Page cache per connection, in KiB (>= 0; PRAGMA cache_size = -N).
  int cache_size_kib = 8 * 1024;
  // Memory-mapped I/O per connection, in bytes (>= 0; 0 turns it off).
  int64_t mmap_size_bytes = 0;
  // Reader connections kept open while idle (>= 0). Concurrent reads beyond it open extra
  // connections that are closed when returned.
  size_t max_idle_readers = 8;
  // WAL size in pages (of 4 KiB) at which the WAL is copied back into the database file: the
  // bulk by a background thread, the last few frames by the writer between transactions (see
  // above; >= 0; 0: only at close and on Checkpoint()).
  int wal_autocheckpoint_pages = 1000;
  // Run PRAGMA optimize (refreshes planner statistics where useful) when the store closes.
  bool optimize_on_close = true;
  // Which terms of a SearchText/SearchDocumentsText query reach FTS5 (store/fts_planner.h:
  // terms in more than half the rows are dropped, the matches ranked are bounded).
  FtsPlannerOptions fts_planner{};
};

// InvalidArgument naming the first bad field, or OK.
Status ValidateSqliteOptions(const SqliteOptions& options);

// One row of the models table.

// Snapshot of the writer queue, for health checks and tests.
struct WriterStats {
  size_t queued = 0;                    // accepted, waiting for the writer thread
  size_t in_flight = 0;                 // taken by the writer thread, transaction not yet ended
  uint64_t batches = 0;                 // transactions ended since Open
  uint64_t background_checkpoints = 0;  // PASSIVE checkpoints run by the checkpointer thread
};

class SqliteStore final : public Store {
 public:
  // Opens or creates the database, applies pending migrations (DESIGN.md §4) in one transaction
  // and starts the writer thread. `metrics` (nullable) receives db_operations_total{op,status},
  // db_operation_duration_seconds{op}, db_write_queue_depth and db_group_commit_batch_size and
  // must outlive the store; `clock` (nullable: SystemClock) too. Errors: InvalidArgument for bad
  // options, FailedPrecondition for a file that is not a database or whose schema is newer than
  // this binary, Unavailable when the file is locked or cannot be written.
  static Result<std::unique_ptr<SqliteStore>> Open(SqliteOptions options,
                                                   MetricsRegistry* metrics = nullptr,
                                                   const Clock* clock = nullptr);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // ---- Store ----
  Result<int64_t> AppendConversation(const NewConversation& turn) override;
  Result<std::vector<Conversation>> ListConversations(std::string_view session_id,
                                                      int limit) override;
  Result<int64_t> DeleteSession(std::string_view session_id) override;
  Result<int64_t> DeleteConversationsBefore(int64_t cutoff_ms) override;

  // Re-ingesting unchanged content is answered from a reader connection without queueing a
  // write. InvalidArgument for metadata that is not JSON or for two chunks with one chunk_index.
  Result<PutDocumentResult> PutDocument(const NewDocument& doc, const std::vector<NewChunk>& chunks,
                                        std::string_view embedding_model) override;
  Result<std::optional<int64_t>> FindDocumentByHash(std::string_view content_hash) override;
  // last_accessed is advisory and updated lazily: GetDocument records the access in memory and
  // the writer folds pending accesses into one background write, committed no later than any
  // write submitted after this call returns. Reads never wait for it; when the write queue is
  // full the update is postponed to a later access, and a crash may lose it. The returned
  // Document shows the value before this access.
  Result<Document> GetDocument(int64_t id) override;
  // Newest first (created_at, then id). limit <= 0: all. offset < 0: InvalidArgument.
  Result<std::vector<DocumentSummary>> ListDocuments(int limit, int offset) override;
  Result<std::vector<int64_t>> DeleteDocument(int64_t id) override;

  Result<std::vector<ChunkView>> GetChunks(const std::vector<int64_t>& chunk_ids) override;
  // limit <= 0 or no non-empty term: empty result.
  Result<std::vector<TextHit>> SearchText(const std::vector<std::string>& terms,
                                          int limit) override;
  Result<std::vector<DocumentTextHit>> SearchDocumentsText(const std::vector<std::string>& terms,
                                                           int limit, double title_weight) override;
  // The snippet looks at the first 256 KiB of the content only.
  Result<std::vector<DocumentPreview>> GetDocumentPreviews(const std::vector<int64_t>& ids,
                                                           const std::vector<std::string>& terms,
                                                           size_t max_tokens) override;
  Result<std::vector<ChunkRef>> ChunkDocumentIds(const std::vector<int64_t>& chunk_ids) override;
  Result<std::vector<ChunkRef>> DocumentChunkIds(const std::vector<int64_t>& document_ids) override;
  // Runs on one reader connection inside one read snapshot for the whole scan.
  Status ForEachChunkEmbedding(
      int64_t after_id,
      const std::function<bool(int64_t chunk_id, std::string_view model,
                               const std::vector<float>& embedding)>& fn) override;
  Status ForEachStaleChunk(
      int64_t after_id, std::string_view model,
      const std::function<bool(int64_t chunk_id, std::string_view text)>& fn) override;
  Status UpdateChunkEmbeddings(const std::vector<int64_t>& chunk_ids,
                               const std::vector<std::vector<float>>& embeddings,
                               std::string_view model) override;
  Result<int64_t> MaxChunkId() override;

  Result<StoreStats> Stats() override;
  Status Ping() override;

  Status RecordModelUsage(std::string_view model, double response_ms) override;
  Result<std::vector<ModelUsage>> ListModelUsage() override;

  // ---- SQLite-specific ----
  Result<std::optional<std::string>> GetSetting(std::string_view key);
  Status PutSetting(std::string_view key, std::string_view value);
  // Copies the WAL into the database file and truncates the WAL (PRAGMA wal_checkpoint(TRUNCATE))
  // on the writer thread. Unavailable if readers kept it from completing.
  Status Checkpoint();
  // Writes a consistent, compacted copy of the database to `path` (VACUUM INTO a temporary file,
  // then rename). AlreadyExists if `path` exists.
  Status BackupTo(const std::string& path);

  // Builds in-memory copies of the full-text indexes (store/memory_fts.h) from the database and
  // answers SearchText, SearchDocumentsText, ChunkDocumentIds and DocumentChunkIds from them from
  // then on; every later write updates them as it commits. Meant for long-running processes (serve,
  // chat): it reads and tokenizes every chunk and document once (writes wait meanwhile).
  // Idempotent.
  Status EnableMemoryFts();
  bool memory_fts_enabled() const { return memory_fts_.load(std::memory_order_acquire); }
  // Live rows, terms, postings and bytes of the chunk and document copies (zeros when off).
  MemoryFtsStats MemoryFtsChunkStats() const;
  MemoryFtsStats MemoryFtsDocumentStats() const;

  WriterStats GetWriterStats() const;
  const std::string& path() const { return options_.path; }

 private:
  SqliteStore(SqliteOptions options, const Clock* clock,
              std::unique_ptr<SqliteStoreMetrics> metrics);

  // Runs one single-statement delete on the writer (`bind` binds its parameters); returns the
  // number of rows it deleted.
  Result<int64_t> CountingDelete(DbOp op, const char* sql,
                                 const std::function<void(SqliteStatement&)>& bind);
  // Records that document `id` was read at `now_ms`; schedules the background write.
  void NoteAccess(int64_t id, int64_t now_ms);
  Status FlushAccesses(SqliteConnection& conn);
  // Rows for the in-memory full-text copies, tokenized before a write (when the copies are on).
  struct MemoryFtsRows {
    MemoryFtsRow document;
    std::vector<MemoryFtsRow> chunks;  // in chunk_index order, as InsertChunks stores them
  };
  Result<MemoryFtsRows> PrepareMemoryFtsRows(const NewDocument& doc,
                                             const std::vector<NewChunk>& chunks) const;
  // Writer thread, after the commit of a PutDocument / DeleteDocument.
  void ApplyPutToMemoryFts(const NewDocument& doc, const std::vector<NewChunk>& chunks,
                           const PutDocumentResult& result, std::optional<MemoryFtsRows>& rows);
  void ApplyDeleteToMemoryFts(int64_t document_id, const std::vector<int64_t>& chunk_ids);
  // Query words -> FTS5 query tokens (porter-stemmed), in order, duplicates kept.
  Result<std::vector<std::string>> QueryTokens(const std::vector<std::string>& terms) const;
  // Called by the checkpointer after a background checkpoint: completes it on the writer thread.
  void FinishCheckpoint();

  const SqliteOptions options_;
  const Clock* const clock_;
  std::unique_ptr<SqliteStoreMetrics> metrics_;       // null without a registry
  std::unique_ptr<SqliteCheckpointer> checkpointer_;  // null when wal_autocheckpoint_pages == 0
  std::unique_ptr<SqliteReaderPool> readers_;
  std::unique_ptr<SqliteWriter> writer_;
  FtsPlanner fts_planner_;                   // thread-safe; caches document frequencies
  std::unique_ptr<FtsTokenizer> tokenizer_;  // FTS5's tokenizer (snippets, memory copies)
  // In-memory copies of chunks_fts / documents_fts; set once by EnableMemoryFts, on the writer
  // thread, before memory_fts_ turns true (and never reset while the store lives).
  std::unique_ptr<MemoryFts> chunks_memory_;
  std::unique_ptr<MemoryFts> documents_memory_;
  std::atomic<bool> memory_fts_{false};

  std::mutex access_mu_;  // guards pending_access_ and access_flush_queued_
  std::unordered_map<int64_t, int64_t> pending_access_;  // document id -> last access (ms)
  bool access_flush_queued_ = false;
};

}  // namespace jrvs::store
