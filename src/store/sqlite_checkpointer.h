// SqliteCheckpointer: copies the WAL back into the database file on its own thread and
// connection, so the writer thread does not spend its time on checkpoint I/O.
//
// Attach() replaces SQLite's automatic checkpoint on the writer connection with a WAL hook: after
// a commit leaves the WAL at or above `threshold_pages`, the hook (running on the writer thread)
// only wakes this thread. The thread runs a PASSIVE checkpoint, which copies what no reader
// still needs while writes go on, then calls `finish`. A PASSIVE checkpoint running beside a
// busy writer never quite catches up, and SQLite restarts the WAL from its beginning only once
// every frame has been copied, so `finish` must complete the job where no write can interleave:
// SqliteStore queues a second PASSIVE checkpoint on the writer thread, between transactions,
// which copies the few frames written meanwhile; the next transaction then restarts the WAL. The
// bulk of the copying (and its fsync) stays off the writer thread, and the WAL stays near the
// threshold in size.
//
// Thread safety: Attach() before the writer thread starts; the hook runs on the writer thread;
// Checkpoints() from any thread; Stop() from the owner. The checkpointer's connection is used by
// its thread only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "store/sqlite_connection.h"

namespace jrvs::store {

class SqliteCheckpointer {
 public:
  // `conn` must be able to write the database file (not query_only). threshold_pages >= 1.
  // `finish` runs on the checkpointer thread after each checkpoint and should wait for the
  // writer-side step (see above); requests made meanwhile are dropped.
  SqliteCheckpointer(std::unique_ptr<SqliteConnection> conn, int threshold_pages,
                     std::function<void()> finish);
  ~SqliteCheckpointer();  // Stop()
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // Installs the WAL hook on the writer connection (disabling its automatic checkpoint). The
  // checkpointer must outlive the writer connection.
  void Attach(SqliteConnection& writer);

  // Finishes a checkpoint in progress and joins the thread; `finish` is not called afterwards.
  // Idempotent.
  void Stop();

  // PASSIVE checkpoints run so far.
  uint64_t Checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }

 private:
  static int WalHook(void* self, sqlite3* db, const char* db_name, int wal_pages);
  void Run();

  std::unique_ptr<SqliteConnection> conn_;  // used by thread_ only
  const int threshold_pages_;
  const std::function<void()> finish_;
  std::atomic<bool> requested_{false};  // a checkpoint is wanted and the thread not yet told
  std::atomic<uint64_t> checkpoints_{0};
  std::mutex mu_;               // guards stopping_ and the wait on cv_
  std::condition_variable cv_;  // signalled by the hook and by Stop()
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jrvs::store
