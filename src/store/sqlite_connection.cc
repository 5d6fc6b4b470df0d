#include "store/sqlite_connection.h"

#include <utility>

namespace jrvs::store {
namespace {

constexpr const char kRollbackSql[] = "ROLLBACK";

}  // namespace

Status SqliteStatus(int rc, sqlite3* db, std::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string message = "sqlite: ";
  message += context;
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on the connection, which is this one.
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  StatusCode code = StatusCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      code = StatusCode::kInvalidArgument;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_IOERR:
      code = StatusCode::kUnavailable;
      break;
    case SQLITE_TOOBIG:
      code = StatusCode::kPayloadTooLarge;
      break;
    case SQLITE_INTERRUPT:
      code = StatusCode::kCancelled;
      break;
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = StatusCode::kFailedPrecondition;
      break;
    default:
      break;
  }
  return Status(code, std::move(message));
}

// ---- SqliteStatement ----

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_), bind_rc_(other.bind_rc_) {}

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void SqliteStatement::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

SqliteStatement& SqliteStatement::BindInt(int index, int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

SqliteStatement& SqliteStatement::BindDouble(int index, double value) {
  Check(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

SqliteStatement& SqliteStatement::BindText(int index, std::string_view text) {
  // A null data pointer would bind SQL NULL; an empty string_view may carry one.
  const char* data = text.data() != nullptr ? text.data() : "";
  Check(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

SqliteStatement& SqliteStatement::BindOptionalText(int index,
                                                   const std::optional<std::string>& text) {
  if (!text) return BindNull(index);
  return BindText(index, *text);
}

SqliteStatement& SqliteStatement::BindBlob(int index, std::span<const std::byte> bytes) {
  if (bytes.empty()) return BindNull(index);
  Check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  Check(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> SqliteStatement::Step() {
  if (bind_rc_ != SQLITE_OK) return Error(SqliteStatus(bind_rc_, db_, "bind"));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(SqliteStatus(rc, db_, "step"));
}

Status SqliteStatement::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row) return row.error();
    if (!*row) return Status::Ok();
  }
}

bool SqliteStatement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double SqliteStatement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string_view SqliteStatement::TextView(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string_view(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<std::string> SqliteStatement::OptionalText(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Text(column);
}

std::span<const std::byte> SqliteStatement::Blob(int column) const {
  const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return {data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

// ---- SqliteConnection ----

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const SqliteConnectionOptions& options) {
  const int flags =
      (options.writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE) |
      SQLITE_OPEN_NOMUTEX;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteStatus(rc, db, "open " + options.path);
    sqlite3_close_v2(db);  // a handle is allocated even on failure
    return Error(std::move(status));
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);

  // journal_mode is persistent in the file; the writer sets it before anyone reads. It is also
  // the first statement that reads the file, so a file that is not a database fails here.
  if (options.writer) {
    Result<bool> wal_ok = [&]() -> Result<bool> {
      sqlite3_stmt* stmt = nullptr;
      int prc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr);
      if (prc != SQLITE_OK) return Error(SqliteStatus(prc, db, "PRAGMA journal_mode"));
      int src = sqlite3_step(stmt);
      bool is_wal =
          src == SQLITE_ROW &&
          std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "wal";
      Status status = src == SQLITE_ROW ? Status::Ok() : SqliteStatus(src, db, "journal_mode");
      sqlite3_finalize(stmt);
      if (!status.ok()) return Error(std::move(status));
      return is_wal;
    }();
    if (!wal_ok) return Error(wal_ok.error());
    if (!*wal_ok) {
      return Error(StatusCode::kFailedPrecondition,
                   "sqlite: could not switch " + options.path + " to WAL journal mode");
    }
  }
  // synchronous=NORMAL in WAL mode: a commit is durable once its frames reach the WAL file (the OS
  // has them), which survives the process being killed; only a power loss can lose the last
  // commits. foreign_keys makes chunk rows follow their document (ON DELETE CASCADE).
  std::string pragmas = "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;";
  pragmas += "PRAGMA cache_size=-" + std::to_string(options.cache_size_kib) + ";";
  pragmas += "PRAGMA mmap_size=" + std::to_string(options.mmap_size_bytes) + ";";
  if (options.writer) {
    pragmas += "PRAGMA foreign_keys=ON;";
    pragmas +=
        "PRAGMA wal_autocheckpoint=" + std::to_string(options.wal_autocheckpoint_pages) + ";";
    pragmas += "PRAGMA journal_size_limit=67108864;";
  }
  if (options.query_only) pragmas += "PRAGMA query_only=ON;";
  if (Status s = conn->Exec(pragmas); !s.ok()) return Error(std::move(s));
  return conn;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<SqliteStatement> SqliteConnection::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(SqliteStatus(rc, db_, std::string("prepare ") + sql));
    it = statements_.emplace(sql, stmt).first;
  }
  return SqliteStatement(it->second, db_);
}

Status SqliteConnection::Exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  Status status = SqliteStatus(rc, db_, error != nullptr ? error : sql);
  sqlite3_free(error);
  return status;
}

Result<int64_t> SqliteConnection::QueryInt(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(SqliteStatus(rc, db_, "prepare " + sql));
  rc = sqlite3_step(stmt);
  Result<int64_t> out = rc == SQLITE_ROW
                            ? Result<int64_t>(sqlite3_column_int64(stmt, 0))
                            : (rc == SQLITE_DONE ? Error(StatusCode::kInternal, "no row: " + sql)
                                                 : Error(SqliteStatus(rc, db_, sql)));
  sqlite3_finalize(stmt);
  return out;
}

// ---- SqliteReaderPool ----

SqliteReaderPool::Lease::~Lease() {
  if (conn_ == nullptr) return;
  if (conn_->InTransaction()) {
    // An early return left a read transaction open; never pool a connection holding a snapshot.
    Result<SqliteStatement> rollback = conn_->Prepare(kRollbackSql);
    if (!rollback || !rollback->Run().ok()) return;  // closed with conn_
  }
  pool_->Return(std::move(conn_));
}

SqliteReaderPool::SqliteReaderPool(SqliteConnectionOptions options, size_t max_idle)
    : options_(std::move(options)), max_idle_(max_idle) {}

Result<SqliteReaderPool::Lease> SqliteReaderPool::Borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<SqliteConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  Result<std::unique_ptr<SqliteConnection>> conn = SqliteConnection::Open(options_);
  if (!conn) return Error(conn.error());
  return Lease(this, std::move(*conn));
}

void SqliteReaderPool::Return(std::unique_ptr<SqliteConnection> conn) {
  std::unique_ptr<SqliteConnection> surplus;  // closed outside the lock
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) {
    idle_.push_back(std::move(conn));
  } else {
    surplus = std::move(conn);
  }
}

size_t SqliteReaderPool::IdleCount() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

Status BeginRead(SqliteConnection& conn) {
  static constexpr char kBegin[] = "BEGIN";
  Result<SqliteStatement> begin = conn.Prepare(kBegin);
  if (!begin) return begin.error();
  return begin->Run();
}

Status ForEachKeyedRow(SqliteReaderPool& readers, const char* sql, std::span<const int64_t> keys,
                       const std::function<void(int64_t key, SqliteStatement& row)>& fn) {
  if (keys.empty()) return Status::Ok();
  Result<SqliteReaderPool::Lease> conn = readers.Borrow();
  if (!conn) return conn.error();
  if (keys.size() > 1) {  // one snapshot for all lookups; the lease ends it when returned
    if (Status s = BeginRead(**conn); !s.ok()) return s;
  }
  for (int64_t key : keys) {
    Result<SqliteStatement> stmt = (*conn)->Prepare(sql);
    if (!stmt) return stmt.error();
    stmt->BindInt(1, key);
    for (;;) {
      Result<bool> row = stmt->Step();
      if (!row) return row.error();
      if (!*row) break;
      fn(key, *stmt);
    }
  }
  return Status::Ok();
}

}  // namespace jrvs::store
