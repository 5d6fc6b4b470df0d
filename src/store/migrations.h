// Numbered schema migrations of the SQLite store (DESIGN.md §4).
//
// Each migration is a script of DDL applied once, in version order; applied versions are recorded
// in `schema_migrations(version, applied_at)`. Migrations are append-only: a released migration
// is never edited, a schema change is a new migration with the next number.
// Thread safety: pure functions; ApplyMigrations uses the connection it is given (one thread).
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"

namespace jrvs::store {

class SqliteConnection;

struct Migration {
  int version;              // 1, 2, 3, ... without gaps
  const char* description;  // one line, for logs
  const char* sql;          // statements to run, in one transaction with the others
};

// Every migration this binary knows, in version order.
std::span<const Migration> AllMigrations();

// The highest version AllMigrations() knows.
int LatestSchemaVersion();

// Brings the database up to LatestSchemaVersion() in one IMMEDIATE transaction: creates
// schema_migrations if needed and applies the missing migrations. Idempotent. Returns the
// version the database was at before (0 for a new database). A database at a newer version than
// this binary knows is kFailedPrecondition and is left untouched.
Result<int> ApplyMigrations(SqliteConnection& conn, int64_t now_ms);

}  // namespace jrvs::store
