// SqliteStore: opening, conversations, models, settings and maintenance. Documents and chunks are
// in sqlite_store_documents.cc.
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "store/migrations.h"
#include "store/sqlite_checkpointer.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_store_metrics.h"
#include "store/sqlite_writer.h"

namespace jrvs::store {
namespace {

constexpr const char kInsertConversation[] =
    "INSERT INTO conversations(session_id, user_message, ai_response, model_used, context_used,"
    " sources, created_at, latency_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char kListConversations[] =
    "SELECT id, session_id, user_message, ai_response, model_used, context_used, sources,"
    " created_at, latency_ms FROM conversations WHERE session_id = ?1"
    " ORDER BY created_at DESC, id DESC LIMIT ?2";
constexpr const char kDeleteSession[] = "DELETE FROM conversations WHERE session_id = ?1";
constexpr const char kDeleteConversationsBefore[] =
    "DELETE FROM conversations WHERE created_at < ?1";
constexpr const char kStats[] =
    "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks),"
    " (SELECT count(*) FROM conversations), (SELECT count(DISTINCT session_id) FROM conversations)";
constexpr const char kPing[] = "SELECT max(version) FROM schema_migrations";
constexpr const char kRecordModelUsage[] =
    "INSERT INTO models(name, usage_count, avg_response_ms, last_used) VALUES (?1, 1, ?2, ?3)"
    " ON CONFLICT(name) DO UPDATE SET"
    " avg_response_ms = (avg_response_ms * usage_count + excluded.avg_response_ms)"
    " / (usage_count + 1),"
    " usage_count = usage_count + 1, last_used = max(last_used, excluded.last_used)";
constexpr const char kListModelUsage[] =
    "SELECT name, usage_count, avg_response_ms, last_used FROM models"
    " ORDER BY usage_count DESC, name";
constexpr const char kGetSetting[] = "SELECT value FROM settings WHERE key = ?1";
constexpr const char kPutSetting[] =
    "INSERT INTO settings(key, value) VALUES (?1, ?2)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value";
constexpr const char kCheckpoint[] = "PRAGMA wal_checkpoint(TRUNCATE)";
constexpr const char kVacuumInto[] = "VACUUM INTO ?1";

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

// fsync of a file or directory, so a renamed backup survives a power cut.
Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return Status(StatusCode::kUnavailable, "open " + path + " for fsync failed");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status(StatusCode::kUnavailable, "fsync " + path + " failed");
  return Status::Ok();
}

}  // namespace

Status ValidateSqliteOptions(const SqliteOptions& o) {
  auto bad = [](std::string message) {
    return Status(StatusCode::kInvalidArgument, "sqlite." + std::move(message));
  };
  if (o.path.empty()) return bad("path must not be empty");
  if (o.path == ":memory:" || o.path.starts_with("file:")) {
    return bad("path must be a file path (\"" + o.path + "\" is not supported)");
  }
  if (o.busy_timeout_ms < 0) return bad("busy_timeout_ms must be >= 0");
  if (o.write_queue_capacity < 1) return bad("write_queue_capacity must be >= 1");
  if (o.max_batch_ops < 1) return bad("max_batch_ops must be >= 1");
  if (o.group_commit_window_us < 0 || o.group_commit_window_us > 100'000) {
    return bad("group_commit_window_us must be in [0, 100000]");
  }
  if (o.cache_size_kib < 0) return bad("cache_size_kib must be >= 0");
  if (o.mmap_size_bytes < 0) return bad("mmap_size_bytes must be >= 0");
  if (o.wal_autocheckpoint_pages < 0) return bad("wal_autocheckpoint_pages must be >= 0");
  if (!(o.fts_planner.max_df_fraction > 0.0 && o.fts_planner.max_df_fraction <= 1.0)) {
    return bad("fts_planner.max_df_fraction must be in (0, 1]");
  }
  if (o.fts_planner.max_postings < 1) return bad("fts_planner.max_postings must be >= 1");
  if (o.fts_planner.max_unselective_rows < 1) {
    return bad("fts_planner.max_unselective_rows must be >= 1");
  }
  if (o.fts_planner.max_cached_terms < 1) return bad("fts_planner.max_cached_terms must be >= 1");
  return Status::Ok();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(SqliteOptions options,
                                                       MetricsRegistry* metrics,
                                                       const Clock* clock) {
  if (Status s = ValidateSqliteOptions(options); !s.ok()) return Error(std::move(s));
  if (clock == nullptr) clock = &SystemClock::Instance();
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Error(StatusCode::kFailedPrecondition,
                   "cannot create directory " + parent.string() + ": " + ec.message());
    }
  }
  SqliteConnectionOptions conn_options{
      .path = options.path,
      .busy_timeout_ms = options.busy_timeout_ms,
      .cache_size_kib = options.cache_size_kib,
      .mmap_size_bytes = options.mmap_size_bytes,
      .writer = true,
      .query_only = false,
      .wal_autocheckpoint_pages = options.wal_autocheckpoint_pages,
  };
  Result<std::unique_ptr<SqliteConnection>> writer_conn = SqliteConnection::Open(conn_options);
  if (!writer_conn) return Error(writer_conn.error());
  if (Result<int> before = ApplyMigrations(**writer_conn, clock->NowUnixMs()); !before) {
    return Error(before.error());
  }

  std::unique_ptr<SqliteStoreMetrics> store_metrics;
  if (metrics != nullptr) store_metrics = SqliteStoreMetrics::Create(*metrics);
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(std::move(options), clock, std::move(store_metrics)));
  Result<std::unique_ptr<FtsTokenizer>> tokenizer = FtsTokenizer::Create("porter unicode61");
  if (!tokenizer) return Error(tokenizer.error());
  store->tokenizer_ = std::move(*tokenizer);
  conn_options.writer = false;
  conn_options.query_only = true;
  store->readers_ =
      std::make_unique<SqliteReaderPool>(conn_options, store->options_.max_idle_readers);
  // Open one reader now, so a file readers cannot open fails here rather than on first use.
  if (Result<SqliteReaderPool::Lease> lease = store->readers_->Borrow(); !lease) {
    return Error(lease.error());
  }
  if (store->options_.wal_autocheckpoint_pages > 0) {
    conn_options.query_only = false;  // a checkpoint writes the database file
    Result<std::unique_ptr<SqliteConnection>> ckpt_conn = SqliteConnection::Open(conn_options);
    if (!ckpt_conn) return Error(ckpt_conn.error());
    SqliteStore* self = store.get();
    store->checkpointer_ = std::make_unique<SqliteCheckpointer>(
        std::move(*ckpt_conn), store->options_.wal_autocheckpoint_pages,
        [self] { self->FinishCheckpoint(); });
    store->checkpointer_->Attach(**writer_conn);
  }
  SqliteWriter::Options writer_options{
      .queue_capacity = store->options_.write_queue_capacity,
      .max_batch_ops = store->options_.max_batch_ops,
      .gather_window = std::chrono::microseconds(store->options_.group_commit_window_us),
      .queue_depth = store->metrics_ ? store->metrics_->write_queue_depth : nullptr,
      .batch_size = store->metrics_ ? store->metrics_->group_commit_batch_size : nullptr,
  };
  store->writer_ = std::make_unique<SqliteWriter>(std::move(*writer_conn), writer_options);
  return store;
}

SqliteStore::SqliteStore(SqliteOptions options, const Clock* clock,
                         std::unique_ptr<SqliteStoreMetrics> metrics)
    : options_(std::move(options)),
      clock_(clock),
      metrics_(std::move(metrics)),
      fts_planner_(options_.fts_planner) {}

SqliteStore::~SqliteStore() {
  if (writer_ != nullptr) {
    writer_->Stop();  // commits what is queued, including pending access times
    if (options_.optimize_on_close) {
      if (SqliteConnection* conn = writer_->connection_after_stop()) {
        (void)conn->Exec("PRAGMA optimize");  // advisory; nothing to do on failure
      }
    }
  }
  if (checkpointer_ != nullptr) checkpointer_->Stop();  // no FinishCheckpoint() from now on
  writer_.reset();  // closes the writer connection, which holds the checkpointer's WAL hook
  readers_.reset();
  checkpointer_.reset();  // the last connection to close checkpoints and removes the WAL
}

void SqliteStore::FinishCheckpoint() {
  // Between two transactions no write can interleave, so this copies the frames written since
  // the background checkpoint began and lets the next transaction restart the WAL. It waits, so
  // the checkpointer starts no new checkpoint meanwhile (one would hold the checkpoint lock).
  Status s = writer_->RunExclusive([](SqliteConnection& conn) -> Status {
    int rc =
        sqlite3_wal_checkpoint_v2(conn.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SqliteStatus(rc, conn.db(), "finishing checkpoint");
  });
  if (!s.ok() && s.code() != StatusCode::kUnavailable) {  // Unavailable: queue full or closing
    spdlog::warn("{}", s.ToString());
  }
}

// ---- conversations ----

Result<int64_t> SqliteStore::AppendConversation(const NewConversation& turn) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kAppendConversation);
  const int64_t created_at = turn.created_at_ms != 0 ? turn.created_at_ms : clock_->NowUnixMs();
  const std::string_view sources = JsonOr(turn.sources_json, "[]");
  int64_t id = 0;
  Status status = writer_->Write(
      [&](SqliteConnection& conn) -> Status {
        Result<SqliteStatement> stmt = conn.Prepare(kInsertConversation);
        if (!stmt) return stmt.error();
        stmt->BindText(1, turn.session_id)
            .BindText(2, turn.user_message)
            .BindText(3, turn.ai_response)
            .BindText(4, turn.model_used)
            .BindText(5, turn.context_used)
            .BindText(6, sources)
            .BindInt(7, created_at)
            .BindDouble(8, turn.latency_ms);
        if (Status s = stmt->Run(); !s.ok()) return s;
        id = conn.LastInsertRowId();
        return Status::Ok();
      },
      SqliteWriter::Atomicity::kSingleStatement);
  if (!status.ok()) return timer.Finish<int64_t>(Error(std::move(status)));
  return timer.Finish<int64_t>(id);
}

Result<std::vector<Conversation>> SqliteStore::ListConversations(std::string_view session_id,
                                                                 int limit) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kListConversations);
  auto run = [&]() -> Result<std::vector<Conversation>> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kListConversations);
    if (!stmt) return Error(stmt.error());
    stmt->BindText(1, session_id).BindInt(2, limit > 0 ? limit : -1);
    std::vector<Conversation> turns;
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return Error(row.error());
      if (!*row) break;
      turns.push_back(Conversation{
          .id = stmt->Int(0),
          .session_id = stmt->Text(1),
          .user_message = stmt->Text(2),
          .ai_response = stmt->Text(3),
          .model_used = stmt->Text(4),
          .context_used = stmt->Text(5),
          .sources_json = stmt->Text(6),
          .created_at_ms = stmt->Int(7),
          .latency_ms = stmt->Double(8),
      });
    }
    std::reverse(turns.begin(), turns.end());  // newest `limit`, returned oldest first
    return turns;
  };
  return timer.Finish(run());
}

Result<int64_t> SqliteStore::CountingDelete(DbOp op, const char* sql,
                                            const std::function<void(SqliteStatement&)>& bind) {
  DbOpTimer timer(metrics_.get(), clock_, op);
  int64_t deleted = 0;
  Status status = writer_->Write(
      [&](SqliteConnection& conn) -> Status {
        Result<SqliteStatement> stmt = conn.Prepare(sql);
        if (!stmt) return stmt.error();
        bind(*stmt);
        if (Status s = stmt->Run(); !s.ok()) return s;
        deleted = conn.Changes();
        return Status::Ok();
      },
      SqliteWriter::Atomicity::kSingleStatement);
  if (!status.ok()) return timer.Finish<int64_t>(Error(std::move(status)));
  return timer.Finish<int64_t>(deleted);
}

Result<int64_t> SqliteStore::DeleteSession(std::string_view session_id) {
  return CountingDelete(DbOp::kDeleteSession, kDeleteSession,
                        [&](SqliteStatement& stmt) { stmt.BindText(1, session_id); });
}

Result<int64_t> SqliteStore::DeleteConversationsBefore(int64_t cutoff_ms) {
  return CountingDelete(DbOp::kDeleteConversationsBefore, kDeleteConversationsBefore,
                        [&](SqliteStatement& stmt) { stmt.BindInt(1, cutoff_ms); });
}

// ---- stats and health ----

Result<StoreStats> SqliteStore::Stats() {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kStats);
  auto run = [&]() -> Result<StoreStats> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kStats);
    if (!stmt) return Error(stmt.error());
    Result<bool> row = stmt->Step();
    if (!row) return Error(row.error());
    StoreStats stats;
    stats.documents = stmt->Int(0);
    stats.chunks = stmt->Int(1);
    stats.conversations = stmt->Int(2);
    stats.sessions = stmt->Int(3);
    stats.database_bytes = FileSize(options_.path) + FileSize(options_.path + "-wal");
    return stats;
  };
  return timer.Finish(run());
}

Status SqliteStore::Ping() {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kPing);
  auto run = [&]() -> Status {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return conn.error();
    Result<SqliteStatement> stmt = (*conn)->Prepare(kPing);
    if (!stmt) return stmt.error();
    Result<bool> row = stmt->Step();
    if (!row) return row.error();
    return Status::Ok();
  };
  return timer.Finish(run());
}

// ---- models and settings ----

Status SqliteStore::RecordModelUsage(std::string_view model, double response_ms) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kRecordModelUsage);
  const int64_t now = clock_->NowUnixMs();
  return timer.Finish(writer_->Write(
      [&](SqliteConnection& conn) -> Status {
        Result<SqliteStatement> stmt = conn.Prepare(kRecordModelUsage);
        if (!stmt) return stmt.error();
        stmt->BindText(1, model).BindDouble(2, response_ms).BindInt(3, now);
        return stmt->Run();
      },
      SqliteWriter::Atomicity::kSingleStatement));
}

Result<std::vector<ModelUsage>> SqliteStore::ListModelUsage() {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kListModelUsage);
  auto run = [&]() -> Result<std::vector<ModelUsage>> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kListModelUsage);
    if (!stmt) return Error(stmt.error());
    std::vector<ModelUsage> models;
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return Error(row.error());
      if (!*row) break;
      models.push_back(ModelUsage{.name = stmt->Text(0),
                                  .usage_count = stmt->Int(1),
                                  .avg_response_ms = stmt->Double(2),
                                  .last_used_ms = stmt->Int(3)});
    }
    return models;
  };
  return timer.Finish(run());
}

Result<std::optional<std::string>> SqliteStore::GetSetting(std::string_view key) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kGetSetting);
  auto run = [&]() -> Result<std::optional<std::string>> {
    Result<SqliteReaderPool::Lease> conn = readers_->Borrow();
    if (!conn) return Error(conn.error());
    Result<SqliteStatement> stmt = (*conn)->Prepare(kGetSetting);
    if (!stmt) return Error(stmt.error());
    stmt->BindText(1, key);
    Result<bool> row = stmt->Step();
    if (!row) return Error(row.error());
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(stmt->Text(0));
  };
  return timer.Finish(run());
}

Status SqliteStore::PutSetting(std::string_view key, std::string_view value) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kPutSetting);
  return timer.Finish(writer_->Write(
      [&](SqliteConnection& conn) -> Status {
        Result<SqliteStatement> stmt = conn.Prepare(kPutSetting);
        if (!stmt) return stmt.error();
        stmt->BindText(1, key).BindText(2, value);
        return stmt->Run();
      },
      SqliteWriter::Atomicity::kSingleStatement));
}

// ---- maintenance ----

Status SqliteStore::Checkpoint() {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kCheckpoint);
  return timer.Finish(writer_->RunExclusive([](SqliteConnection& conn) -> Status {
    Result<SqliteStatement> stmt = conn.Prepare(kCheckpoint);
    if (!stmt) return stmt.error();
    Result<bool> row = stmt->Step();
    if (!row) return row.error();
    if (*row && stmt->Int(0) != 0) {
      return Status(StatusCode::kUnavailable, "checkpoint incomplete: readers hold old snapshots");
    }
    return Status::Ok();
  }));
}

Status SqliteStore::BackupTo(const std::string& path) {
  DbOpTimer timer(metrics_.get(), clock_, DbOp::kBackup);
  auto run = [&]() -> Status {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      return Status(StatusCode::kAlreadyExists, "backup target " + path + " exists");
    }
    const std::string tmp = path + ".tmp";
    std::filesystem::remove(tmp, ec);  // a leftover of an interrupted backup
    // VACUUM INTO writes, so it needs a connection without query_only.
    Result<std::unique_ptr<SqliteConnection>> conn = SqliteConnection::Open({
        .path = options_.path,
        .busy_timeout_ms = options_.busy_timeout_ms,
        .cache_size_kib = options_.cache_size_kib,
        .mmap_size_bytes = 0,
        .writer = false,
        .query_only = false,
        .wal_autocheckpoint_pages = options_.wal_autocheckpoint_pages,
    });
    if (!conn) return conn.error();
    {
      Result<SqliteStatement> stmt = (*conn)->Prepare(kVacuumInto);
      if (!stmt) return stmt.error();
      stmt->BindText(1, tmp);
      if (Status s = stmt->Run(); !s.ok()) return s;
    }
    if (Status s = SyncPath(tmp, false); !s.ok()) return s;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      return Status(StatusCode::kUnavailable,
                    "rename " + tmp + " -> " + path + ": " + ec.message());
    }
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    return SyncPath(dir.empty() ? "." : dir.string(), true);
  };
  return timer.Finish(run());
}

WriterStats SqliteStore::GetWriterStats() const {
  return WriterStats{
      .queued = writer_->QueuedWrites(),
      .in_flight = writer_->InFlightWrites(),
      .batches = writer_->BatchesDone(),
      .background_checkpoints = checkpointer_ ? checkpointer_->Checkpoints() : 0,
  };
}

}  // namespace jrvs::store
