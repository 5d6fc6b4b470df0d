#include "store/sqlite_writer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace jrvs::store {
namespace {

constexpr const char kBegin[] = "BEGIN IMMEDIATE";
constexpr const char kCommit[] = "COMMIT";
constexpr const char kRollback[] = "ROLLBACK";
constexpr const char kSavepoint[] = "SAVEPOINT op";
constexpr const char kRelease[] = "RELEASE op";
constexpr const char kRollbackTo[] = "ROLLBACK TO op";

}  // namespace

SqliteWriter::SqliteWriter(std::unique_ptr<SqliteConnection> conn, Options options)
    : conn_(std::move(conn)), options_(options) {
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "jrvs-db-writer");  // for top -H, perf, gdb
}

SqliteWriter::~SqliteWriter() { Stop(); }

void SqliteWriter::Stop() {
  if (stopped_) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  stopped_ = true;
}

bool SqliteWriter::Enqueue(OpPtr op, size_t* queued_out) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) {
      *queued_out = queue_.size();
      return false;
    }
    queue_.push_back(std::move(op));
    *queued_out = queue_.size();
    if (options_.queue_depth != nullptr) {
      options_.queue_depth->Set(static_cast<double>(queue_.size()));
    }
    wake = queue_.size() >= wake_at_;
  }
  if (wake) work_cv_.notify_one();
  return true;
}

Status SqliteWriter::Submit(OpPtr op) {
  size_t queued = 0;
  if (!Enqueue(op, &queued)) {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "sqlite writer is stopped");
    return Status(StatusCode::kUnavailable,
                  "sqlite write queue full (" + std::to_string(queued) + " writes pending)");
  }
  // A plain condition variable, not a semaphore: libstdc++'s semaphore spins with sched_yield
  // before sleeping, which steals the CPU from the writer when many callers wait.
  {
    std::unique_lock lock(op->mu);
    op->cv.wait(lock, [&op] { return op->done; });
  }
  if (std::shared_ptr<WakeTree> tree = std::move(op->tree)) {  // also breaks the op <-> tree cycle
    for (size_t child : {2 * op->tree_index + 1, 2 * op->tree_index + 2}) {
      if (child < tree->waiters.size()) Wake(*tree->waiters[child]);
    }
  }
  return std::move(op->status);
}

Status SqliteWriter::Write(WriteFn fn, Atomicity atomicity, std::function<void()> on_commit) {
  auto op = std::make_shared<Op>();
  op->fn = std::move(fn);
  op->on_commit = std::move(on_commit);
  op->single_statement = atomicity == Atomicity::kSingleStatement;
  op->rerunnable = atomicity == Atomicity::kRerunnable;
  return Submit(std::move(op));
}

Status SqliteWriter::RunExclusive(WriteFn fn) {
  auto op = std::make_shared<Op>();
  op->fn = std::move(fn);
  op->exclusive = true;
  return Submit(std::move(op));
}

bool SqliteWriter::TryWriteDetached(WriteFn fn) {
  auto op = std::make_shared<Op>();
  op->fn = std::move(fn);
  op->detached = true;
  size_t queued = 0;
  return Enqueue(std::move(op), &queued);
}

bool SqliteWriter::TryRunExclusiveDetached(WriteFn fn) {
  auto op = std::make_shared<Op>();
  op->fn = std::move(fn);
  op->exclusive = true;
  op->detached = true;
  size_t queued = 0;
  return Enqueue(std::move(op), &queued);
}

size_t SqliteWriter::QueuedWrites() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t SqliteWriter::InFlightWrites() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

uint64_t SqliteWriter::BatchesDone() const {
  std::lock_guard lock(mu_);
  return batches_done_;
}

void SqliteWriter::Run() {
  std::vector<OpPtr> batch;
  batch.reserve(options_.max_batch_ops);
  // Writes expected for the next transaction: those queued while the previous one ran, plus
  // its own callers, who were just released and are likely to write again.
  size_t gather_target = 0;
  std::chrono::steady_clock::time_point batch_done_at;  // when the previous transaction ended
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything queued has been committed
      const size_t target = gather_target;
      // A target from a burst long past says nothing about the write that ends a quiet spell.
      if (target > 1 && queue_.size() < target && options_.gather_window.count() > 0 &&
          std::chrono::steady_clock::now() - batch_done_at < 10 * options_.gather_window) {
        wake_at_ = target;
        work_cv_.wait_for(lock, options_.gather_window,
                          [&] { return queue_.size() >= target || stopping_; });
        wake_at_ = 1;
      }
      // An exclusive op runs alone; a batch stops before the next exclusive op.
      if (queue_.front()->exclusive) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        while (!queue_.empty() && batch.size() < options_.max_batch_ops &&
               !queue_.front()->exclusive) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      in_flight_ = batch.size();
      if (options_.queue_depth != nullptr)
        options_.queue_depth->Set(static_cast<double>(queue_.size()));
    }
    ExecuteBatch(batch);
    for (OpPtr& op : batch) {
      if (op->on_commit && op->status.ok()) op->on_commit();
    }
    if (options_.batch_size != nullptr && !batch.front()->exclusive) {
      options_.batch_size->Observe(static_cast<double>(batch.size()));
    }
    {
      std::lock_guard lock(mu_);
      in_flight_ = 0;
      ++batches_done_;
      gather_target = batch.front()->exclusive
                          ? 0
                          : std::min(queue_.size() + batch.size(), options_.max_batch_ops);
    }
    batch_done_at = std::chrono::steady_clock::now();
    Complete(batch);
    batch.clear();
  }
}

Status SqliteWriter::Exec(const char* sql) {
  Result<SqliteStatement> stmt = conn_->Prepare(sql);
  if (!stmt) return stmt.error();
  return stmt->Run();
}

Status SqliteWriter::RunOp(Op& op) {
  try {
    return op.fn(*conn_);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("write failed: ") + e.what());
  } catch (...) {
    return Status(StatusCode::kInternal, "write failed with an unknown exception");
  }
}

void SqliteWriter::ExecuteBatch(std::vector<OpPtr>& batch) {
  if (batch.front()->exclusive) {
    batch.front()->status = RunOp(*batch.front());
    if (conn_->InTransaction()) (void)Exec(kRollback);  // an exclusive op must not leave one open
    return;
  }
  const bool savepoints = batch.size() > 1;
  if (savepoints && std::all_of(batch.begin(), batch.end(), [](const OpPtr& op) {
        return op->single_statement || op->rerunnable;
      })) {
    if (ExecuteWithoutSavepoints(batch)) return;
  }
  size_t txn_first = 0;  // index of the first op of the open transaction
  bool in_txn = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    Op& op = *batch[i];
    if (!in_txn) {
      if (Status s = Exec(kBegin); !s.ok()) {
        for (size_t j = i; j < batch.size(); ++j) batch[j]->status = s;
        return;
      }
      in_txn = true;
      txn_first = i;
    }
    const bool savepoint = savepoints && !op.single_statement;
    Status s = savepoint ? Exec(kSavepoint) : Status::Ok();
    if (s.ok()) s = RunOp(op);
    if (!conn_->InTransaction()) {
      // SQLite rolled the whole transaction back: the earlier ops of it are lost too.
      if (s.ok()) s = Status(StatusCode::kInternal, "sqlite transaction ended unexpectedly");
      for (size_t j = txn_first; j < i; ++j) {
        if (batch[j]->status.ok()) {
          batch[j]->status = Status(s.code(), "rolled back with its batch: " + s.message());
        }
      }
      op.status = std::move(s);
      in_txn = false;
      continue;
    }
    if (savepoint) {
      if (s.ok()) s = Exec(kRelease);
      if (!s.ok()) {
        (void)Exec(kRollbackTo);  // undo this op only; keep its error
        (void)Exec(kRelease);
      }
    }
    op.status = std::move(s);
  }
  if (in_txn) EndTransaction(batch, txn_first);
}

void SqliteWriter::EndTransaction(std::vector<OpPtr>& batch, size_t first) {
  const bool any_ok = std::any_of(batch.begin() + static_cast<std::ptrdiff_t>(first), batch.end(),
                                  [](const OpPtr& op) { return op->status.ok(); });
  Status end = any_ok ? Exec(kCommit) : Exec(kRollback);
  if (!end.ok()) {
    if (conn_->InTransaction()) (void)Exec(kRollback);
    for (size_t j = first; j < batch.size(); ++j) {
      if (batch[j]->status.ok()) batch[j]->status = end;
    }
  }
}

bool SqliteWriter::ExecuteWithoutSavepoints(std::vector<OpPtr>& batch) {
  if (Status s = Exec(kBegin); !s.ok()) {
    for (OpPtr& op : batch) op->status = s;
    return true;
  }
  for (OpPtr& op : batch) {
    op->status = RunOp(*op);
    if (!conn_->InTransaction()) return false;  // SQLite rolled it back: the careful path says so
    // A failed single statement was undone by SQLite alone; a failed rerunnable write may have
    // left part of its changes.
    if (!op->status.ok() && !op->single_statement) {
      (void)Exec(kRollback);
      return false;
    }
  }
  EndTransaction(batch, 0);
  return true;
}

void SqliteWriter::Wake(Op& op) {
  std::lock_guard lock(op.mu);  // op is shared, so it outlives this even if its caller returns
  op.done = true;
  op.cv.notify_one();
}

void SqliteWriter::Complete(std::vector<OpPtr>& batch) {
  auto tree = std::make_shared<WakeTree>();
  tree->waiters.reserve(batch.size());
  for (OpPtr& op : batch) {
    if (op->detached) {
      if (!op->status.ok()) {
        spdlog::warn("sqlite background write failed: {}", op->status.ToString());
      }
      continue;
    }
    op->tree = tree;
    op->tree_index = tree->waiters.size();
    tree->waiters.push_back(op);
  }
  // Every status is written before the first wake; each wake happens-after the one that led
  // to it (through the ops' mutexes), so every caller sees its own status.
  if (!tree->waiters.empty()) Wake(*tree->waiters[0]);
}

}  // namespace jrvs::store
