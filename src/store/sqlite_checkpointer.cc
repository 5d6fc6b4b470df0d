#include "store/sqlite_checkpointer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace jrvs::store {

SqliteCheckpointer::SqliteCheckpointer(std::unique_ptr<SqliteConnection> conn, int threshold_pages,
                                       std::function<void()> finish)
    : conn_(std::move(conn)), threshold_pages_(threshold_pages), finish_(std::move(finish)) {
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "jrvs-db-ckpt");
}

SqliteCheckpointer::~SqliteCheckpointer() { Stop(); }

void SqliteCheckpointer::Attach(SqliteConnection& writer) {
  sqlite3_wal_hook(writer.db(), &SqliteCheckpointer::WalHook, this);
}

int SqliteCheckpointer::WalHook(void* self, sqlite3*, const char*, int wal_pages) {
  auto* checkpointer = static_cast<SqliteCheckpointer*>(self);
  // Runs on the writer thread after every commit: a comparison, and one wake per request.
  if (wal_pages >= checkpointer->threshold_pages_ &&
      !checkpointer->requested_.exchange(true, std::memory_order_acq_rel)) {
    std::lock_guard lock(checkpointer->mu_);
    checkpointer->cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteCheckpointer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SqliteCheckpointer::Run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || requested_.load(std::memory_order_acquire); });
      if (stopping_) return;
    }
    int wal_frames = 0;
    int copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(conn_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
                                       &copied);
    if (rc == SQLITE_OK) {
      checkpoints_.fetch_add(1, std::memory_order_relaxed);
      if (finish_) finish_();
    } else if ((rc & 0xff) != SQLITE_BUSY) {  // BUSY: another checkpoint runs; try next time
      spdlog::warn("{}", SqliteStatus(rc, conn_->db(), "background checkpoint").ToString());
    }
    // Commits made while this ran asked again; the WAL has restarted since (or the next
    // commit above the threshold asks again), so those requests are spent.
    requested_.store(false, std::memory_order_release);
  }
}

}  // namespace jrvs::store
