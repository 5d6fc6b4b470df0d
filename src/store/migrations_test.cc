#include "store/migrations.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "store/sqlite_connection.h"
#include "store/sqlite_store.h"
#include "store/store_test_util.h"

namespace jrvs::store {
namespace {

using testing::TempDir;

// A plain connection to inspect or tamper with the file behind the store's back.
std::unique_ptr<SqliteConnection> RawConnection(const std::string& path) {
  auto conn = SqliteConnection::Open({.path = path, .writer = true});
  EXPECT_TRUE(conn.has_value()) << conn.error().ToString();
  return conn ? std::move(*conn) : nullptr;
}

std::set<std::string> SchemaObjects(SqliteConnection& conn, const char* type) {
  std::set<std::string> names;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(conn.db(), "SELECT name FROM sqlite_master WHERE type = ?1", -1, &stmt,
                     nullptr);
  sqlite3_bind_text(stmt, 1, type, -1, SQLITE_STATIC);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    names.insert(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  return names;
}

TEST(MigrationsTest, VersionsStartAtOneWithoutGaps) {
  int expected = 1;
  for (const Migration& m : AllMigrations()) {
    EXPECT_EQ(m.version, expected++);
    EXPECT_NE(std::string(m.description), "");
  }
  EXPECT_EQ(LatestSchemaVersion(), expected - 1);
}

TEST(MigrationsTest, FreshDatabaseGetsTheWholeSchema) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  { ASSERT_TRUE(SqliteStore::Open({.path = path}).has_value()); }
  auto conn = RawConnection(path);
  std::set<std::string> tables = SchemaObjects(*conn, "table");
  for (const char* table : {"documents", "chunks", "chunks_fts", "conversations", "models",
                            "settings", "schema_migrations"}) {
    EXPECT_TRUE(tables.count(table)) << table;
  }
  std::set<std::string> indexes = SchemaObjects(*conn, "index");
  for (const char* index : {"documents_content_hash", "chunks_document_id",
                            "conversations_session_created", "conversations_created_at"}) {
    EXPECT_TRUE(indexes.count(index)) << index;
  }
  EXPECT_EQ(*conn->QueryInt("SELECT count(*) FROM schema_migrations"), LatestSchemaVersion());
  EXPECT_EQ(*conn->QueryInt("SELECT max(version) FROM schema_migrations"), LatestSchemaVersion());
}

// A database made by a version-2 binary (its insert triggers wrote the full-text rows) is upgraded:
// the insert triggers go, the store writes those rows itself, and old and new rows are found.
TEST(MigrationsTest, Version2DatabaseUpgradesToStoreWrittenFullTextRows) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  {
    auto conn = RawConnection(path);
    ASSERT_TRUE(conn->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                           " applied_at INTEGER NOT NULL)")
                    .ok());
    for (const Migration& m : AllMigrations()) {
      if (m.version > 2) break;
      ASSERT_TRUE(conn->Exec(m.sql).ok()) << m.version;
      ASSERT_TRUE(
          conn->Exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)")
              .ok());
    }
    ASSERT_TRUE(conn->Exec("INSERT INTO documents(title, content, content_hash, created_at,"
                           " updated_at, last_accessed) VALUES ('Otters', 'otters float', 'h', 0,"
                           " 0, 0);"
                           "INSERT INTO chunks(document_id, chunk_index, text)"
                           " VALUES (1, 0, 'otters float')")
                    .ok());
    EXPECT_EQ(SchemaObjects(*conn, "trigger").count("chunks_fts_insert"), 1u);
  }
  auto store = SqliteStore::Open({.path = path});
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  NewDocument doc;
  doc.title = "Herons";
  doc.content = "herons wade";
  NewChunk chunk;
  chunk.text = "herons wade";
  ASSERT_TRUE((*store)->PutDocument(doc, {chunk}, "none").has_value());
  for (const char* word : {"otters", "herons"}) {
    auto chunks = (*store)->SearchText({word}, 10);
    ASSERT_TRUE(chunks.has_value());
    EXPECT_EQ(chunks->size(), 1u) << word;
    auto docs = (*store)->SearchDocumentsText({word}, 10, 1.0);
    ASSERT_TRUE(docs.has_value());
    EXPECT_EQ(docs->size(), 1u) << word;
  }
  store->reset();
  auto conn = RawConnection(path);
  std::set<std::string> triggers = SchemaObjects(*conn, "trigger");
  EXPECT_EQ(triggers.count("chunks_fts_insert") + triggers.count("documents_fts_insert"), 0u);
  EXPECT_EQ(triggers.count("chunks_fts_delete") + triggers.count("documents_fts_update"), 2u);
  EXPECT_EQ(*conn->QueryInt("SELECT max(version) FROM schema_migrations"), LatestSchemaVersion());
}

TEST(MigrationsTest, ReopenAppliesNothingAgain) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  { ASSERT_TRUE(SqliteStore::Open({.path = path}).has_value()); }
  { ASSERT_TRUE(SqliteStore::Open({.path = path}).has_value()); }
  auto conn = RawConnection(path);
  EXPECT_EQ(*conn->QueryInt("SELECT count(*) FROM schema_migrations"), LatestSchemaVersion());
  // Applying directly reports the version it found and changes nothing.
  Result<int> before = ApplyMigrations(*conn, 123);
  ASSERT_TRUE(before.has_value()) << before.error().ToString();
  EXPECT_EQ(*before, LatestSchemaVersion());
  EXPECT_EQ(*conn->QueryInt("SELECT count(*) FROM schema_migrations"), LatestSchemaVersion());
  EXPECT_EQ(*conn->QueryInt("SELECT count(*) FROM schema_migrations WHERE applied_at = 123"), 0);
}

TEST(MigrationsTest, NewDatabaseReportsVersionZeroBefore) {
  TempDir dir;
  auto conn = RawConnection(dir.File("jrvs.db"));
  Result<int> before = ApplyMigrations(*conn, 42);
  ASSERT_TRUE(before.has_value()) << before.error().ToString();
  EXPECT_EQ(*before, 0);
  EXPECT_EQ(*conn->QueryInt("SELECT applied_at FROM schema_migrations WHERE version = 1"), 42);
}

TEST(MigrationsTest, NewerSchemaIsRejectedAndLeftAlone) {
  TempDir dir;
  const std::string path = dir.File("jrvs.db");
  { ASSERT_TRUE(SqliteStore::Open({.path = path}).has_value()); }
  const int future = LatestSchemaVersion() + 7;
  {
    auto conn = RawConnection(path);
    ASSERT_TRUE(
        conn->Exec("INSERT INTO schema_migrations VALUES (" + std::to_string(future) + ", 0)")
            .ok());
  }
  auto store = SqliteStore::Open({.path = path});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find(std::to_string(future)), std::string::npos)
      << store.error().message();
  auto conn = RawConnection(path);
  EXPECT_EQ(*conn->QueryInt("SELECT max(version) FROM schema_migrations"), future);
}

TEST(MigrationsTest, FileThatIsNotADatabaseIsAClearError) {
  TempDir dir;
  const std::string path = dir.File("notes.txt");
  std::ofstream(path) << std::string(4096, 'x');
  auto store = SqliteStore::Open({.path = path});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition) << store.error().ToString();
}

TEST(MigrationsTest, OpenCreatesParentDirectoriesAndUsesWal) {
  TempDir dir;
  const std::string path = (dir.path() / "a" / "b" / "jrvs.db").string();
  auto store = SqliteStore::Open({.path = path});
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_TRUE(std::filesystem::exists(path));
  auto conn = RawConnection(path);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(conn->db(), "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))), "wal");
  sqlite3_finalize(stmt);
}

TEST(MigrationsTest, BadOptionsAreRejectedByName) {
  TempDir dir;
  struct Case {
    SqliteOptions options;
    const char* field;
  };
  const std::string path = dir.File("jrvs.db");
  const Case cases[] = {
      {{.path = ""}, "path"},
      {{.path = ":memory:"}, "path"},
      {{.path = path, .busy_timeout_ms = -1}, "busy_timeout_ms"},
      {{.path = path, .write_queue_capacity = 0}, "write_queue_capacity"},
      {{.path = path, .max_batch_ops = 0}, "max_batch_ops"},
      {{.path = path, .cache_size_kib = -5}, "cache_size_kib"},
  };
  for (const Case& c : cases) {
    auto store = SqliteStore::Open(c.options);
    ASSERT_FALSE(store.has_value()) << c.field;
    EXPECT_EQ(store.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.error().message().find(c.field), std::string::npos) << store.error().message();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace jrvs::store
