// Thin RAII wrappers over the sqlite3 C API, internal to the store layer (no other layer includes
// this header: it pulls in sqlite3.h).
//
// SqliteConnection owns one `sqlite3*` and a cache of prepared statements keyed by the address of
// their SQL text (so statements must come from string constants with static storage).
// SqliteStatement is a borrowed cached statement: it resets itself and clears its bindings when it
// goes out of scope, so a connection is always returned to a clean state. SqliteReaderPool lends
// reader connections to threads.
//
// Thread safety: a SqliteConnection and its statements are used by one thread at a time (they
// are opened with SQLITE_OPEN_NOMUTEX); the pool hands each connection to one borrower at a time.
// SqliteReaderPool's methods are safe to call concurrently.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace jrvs::store {

// The Status for an SQLite result code, with `context` and the connection's error message.
// Codes: CONSTRAINT/MISMATCH/RANGE -> kInvalidArgument, BUSY/LOCKED/FULL/NOMEM/IOERR ->
// kUnavailable, TOOBIG -> kPayloadTooLarge, INTERRUPT -> kCancelled, NOTADB/CANTOPEN/READONLY/PERM
// -> kFailedPrecondition, anything else (CORRUPT, MISUSE, ...) -> kInternal.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

// `json`, or `fallback` when it is empty. Both are views: no temporary string is made (a
// `cond ? "[]" : str` would build one, and bound text must outlive the statement's step).
inline std::string_view JsonOr(const std::string& json, std::string_view fallback) {
  return json.empty() ? fallback : std::string_view(json);
}

class SqliteStatement {
 public:
  SqliteStatement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based. Text and blobs are bound without copying: the bytes must stay alive
  // until the statement is destroyed. A binding error is reported by the next Step()/Run().
  SqliteStatement& BindInt(int index, int64_t value);
  SqliteStatement& BindDouble(int index, double value);
  SqliteStatement& BindText(int index, std::string_view text);
  SqliteStatement& BindOptionalText(int index,
                                    const std::optional<std::string>& text);  // nullopt: NULL
  SqliteStatement& BindBlob(int index, std::span<const std::byte> bytes);     // empty: NULL
  SqliteStatement& BindNull(int index);

  // Advances: true when a row is ready, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();

  // Column accessors for the current row (0-based).
  bool IsNull(int column) const;
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string_view TextView(int column) const;  // valid until the next Step()
  std::string Text(int column) const { return std::string(TextView(column)); }
  std::optional<std::string> OptionalText(int column) const;
  std::span<const std::byte> Blob(int column) const;  // valid until the next Step()

 private:
  void Check(int rc);

  sqlite3_stmt* stmt_;
  sqlite3* db_;
  int bind_rc_ = SQLITE_OK;  // first failed binding, reported by Step()
};

struct SqliteConnectionOptions {
  std::string path;
  int busy_timeout_ms = 5000;
  int cache_size_kib = 8 * 1024;
  int64_t mmap_size_bytes = 0;
  bool writer = false;      // creates the file, sets WAL mode and foreign keys
  bool query_only = false;  // PRAGMA query_only: the connection cannot write
  int wal_autocheckpoint_pages = 1000;
};

class SqliteConnection {
 public:
  // Opens (creating the file for the writer) and applies the pragmas of DESIGN.md §4.
  static Result<std::unique_ptr<SqliteConnection>> Open(const SqliteConnectionOptions& options);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // A cached prepared statement for `sql`, which must have static storage duration (the cache is
  // keyed by its address). Holds one statement of the text; do not nest two uses of the same text.
  Result<SqliteStatement> Prepare(const char* sql);
  // Runs one or more statements that return no rows (not cached). For migrations and pragmas.
  Status Exec(const std::string& sql);
  // The integer the first column of the first row of `sql` holds (not cached).
  Result<int64_t> QueryInt(const std::string& sql);

  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int64_t Changes() const { return sqlite3_changes64(db_); }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* db() const { return db_; }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;  // keyed by SQL text address
};

// Lends reader connections. Borrow() hands out an idle connection or opens a new one; the Lease
// returns it on destruction (rolling back a read transaction left open), keeping at most
// `max_idle` idle connections and closing the rest. The pool must outlive its leases.
// Opens a read transaction on `conn`, so several lookups see one snapshot; returning the
// connection to its pool ends it.
Status BeginRead(SqliteConnection& conn);

class SqliteReaderPool {
 public:
  class Lease {
   public:
    Lease(SqliteReaderPool* pool, std::unique_ptr<SqliteConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    SqliteConnection& operator*() const { return *conn_; }
    SqliteConnection* operator->() const { return conn_.get(); }

   private:
    SqliteReaderPool* pool_;
    std::unique_ptr<SqliteConnection> conn_;
  };

  SqliteReaderPool(SqliteConnectionOptions options, size_t max_idle);
  Result<Lease> Borrow();
  size_t IdleCount() const;

 private:
  void Return(std::unique_ptr<SqliteConnection> conn);

  const SqliteConnectionOptions options_;
  const size_t max_idle_;
  mutable std::mutex mu_;  // guards idle_
  std::vector<std::unique_ptr<SqliteConnection>> idle_;
};

// Runs `sql` once per key (bound to ?1) on one connection of `readers`, all in one read snapshot,
// and calls fn(key, statement) for each row it returns: lookups by id of many rows at once.
Status ForEachKeyedRow(SqliteReaderPool& readers, const char* sql, std::span<const int64_t> keys,
                       const std::function<void(int64_t key, SqliteStatement& row)>& fn);

}  // namespace jrvs::store
