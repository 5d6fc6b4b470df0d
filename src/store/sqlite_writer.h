// SqliteWriter: the single writer of a SQLite database, with group commit (DESIGN.md §3).
//
// Owns the writer connection and a thread fed by a bounded FIFO queue. The thread takes up to
// `max_batch_ops` queued writes and runs them in one BEGIN IMMEDIATE ... COMMIT; when the batch
// holds more than one write, each runs inside its own SAVEPOINT (or, for a single-statement
// write, SQLite's own statement rollback), so a write that fails is rolled back alone and its
// neighbours still commit. Callers of Write() block until the transaction holding their write
// has committed (or failed): OK means durable. When the queue is full, Write() fails at once
// with kUnavailable instead of waiting.
//
// Batching adapts to load, since each commit costs a dozen syscalls (WAL frame writes, shm
// locks): a lone write is committed at once; right after a transaction of n writes, during which
// q more were queued, the thread waits up to `gather_window` for n + q to be queued (the n
// callers just released tend to write again) before starting the next one. This is PostgreSQL's
// commit_delay, made adaptive.
//
// A write that makes SQLite abandon the whole transaction (disk full, I/O error) fails every
// write of the batch that ran before it in that transaction; the rest of the batch runs in a new
// transaction.
//
// Completion: the writer wakes one caller per transaction and the woken callers wake the others
// (a binary tree), so the writer does not spend its time on thread wake-ups.
//
// Thread safety: Write(), RunExclusive(), the Try...Detached() methods and the counters are safe
// to call from any thread, but Write() and RunExclusive() not from inside a WriteFn (the writer
// would wait for itself). WriteFns run on the writer thread, one at a time. Stop() from the owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "store/sqlite_connection.h"

namespace jrvs::store {

class SqliteWriter {
 public:
  // Runs on the writer thread with the writer connection, inside the batch's transaction.
  using WriteFn = std::function<Status(SqliteConnection&)>;

  struct Options {
    size_t queue_capacity = 4096;  // queued writes not yet taken by the thread (>= 1)
    size_t max_batch_ops = 512;    // most writes per transaction (>= 1)
    // How long the thread may wait to gather the next transaction's writes (see above; 0:
    // never wait).
    std::chrono::microseconds gather_window{100};
    Gauge* queue_depth = nullptr;     // nullable: set to the queue length as it changes
    Histogram* batch_size = nullptr;  // nullable: observes the writes of each transaction
  };

  // Starts the writer thread, which owns `conn` until Stop().
  SqliteWriter(std::unique_ptr<SqliteConnection> conn, Options options);
  ~SqliteWriter();  // Stop()
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;

  // Queues fn for the next group commit and waits until its transaction ends. Returns fn's error,
  // or the error of BEGIN/COMMIT, or kUnavailable if the queue is full or the writer stopped.
  //
  // `atomicity` kSingleStatement promises that fn runs at most one data-changing statement: SQLite
  // already undoes a failed statement alone and keeps the transaction open, so the write needs
  // no SAVEPOINT of its own (which saves about 15% of the writer's work per small write).
  //
  // `atomicity` kRerunnable promises that fn may be run again from the start after its
  // transaction was rolled back (it keeps nothing from an earlier run). A batch made only of such
  // writes and single statements runs without SAVEPOINTs; if one of those writes fails, the batch
  // is rolled back and run again with them. SAVEPOINTs are not free: FTS5 flushes its pending
  // terms at each one, which was ~28% of the server's samples while ingesting.
  //
  // `on_commit` (optional) runs on the writer thread once fn's write has committed, before any
  // later transaction starts and before the caller wakes: committed writes' callbacks run in
  // commit order (for in-memory copies of the data that must follow the database exactly). It is
  // skipped when the write fails or is rolled back. It must not throw or call the writer.
  enum class Atomicity { kSavepoint, kSingleStatement, kRerunnable };
  Status Write(WriteFn fn, Atomicity atomicity = Atomicity::kSavepoint,
               std::function<void()> on_commit = {});

  // Queues fn to run alone and outside any transaction (e.g. a WAL checkpoint); waits for it.
  Status RunExclusive(WriteFn fn);

  // Queues fn without waiting for it (its failures are logged). False, and fn is dropped, if the
  // queue is full or the writer stopped.
  bool TryWriteDetached(WriteFn fn);
  // Like RunExclusive() without waiting: fn runs alone and outside any transaction.
  bool TryRunExclusiveDetached(WriteFn fn);

  // Stops taking writes, commits those already queued and joins the thread. Idempotent.
  void Stop();

  // After Stop(): the connection, for housekeeping on the calling thread. Null before.
  SqliteConnection* connection_after_stop() { return stopped_ ? conn_.get() : nullptr; }

  // Writes accepted and waiting in the queue.
  size_t QueuedWrites() const;
  // Writes the thread has taken and not yet completed (the current batch).
  size_t InFlightWrites() const;
  // Transactions ended (committed or failed) since start.
  uint64_t BatchesDone() const;

 private:
  struct Op;
  using OpPtr = std::shared_ptr<Op>;
  // The waiting callers of one transaction, woken as a binary tree: the writer thread wakes
  // waiters[0], and each woken caller wakes waiters[2i+1] and waiters[2i+2] before returning.
  // Waking a sleeping thread is the most expensive step of a write on small VMs; this keeps
  // the writer thread to one wake per transaction and spreads the rest over the callers.
  struct WakeTree {
    std::vector<OpPtr> waiters;
  };
  // One queued write, shared by its caller and the writer thread (so neither outlives the
  // other's last use of it).
  struct Op {
    WriteFn fn;
    std::function<void()> on_commit;  // run after a successful commit (see Write())
    bool exclusive = false;
    bool detached = false;
    bool single_statement = false;   // no SAVEPOINT needed (Atomicity::kSingleStatement)
    bool rerunnable = false;         // may run again after a rollback (Atomicity::kRerunnable)
    Status status;                   // written by the writer thread before the wake tree is started
    std::shared_ptr<WakeTree> tree;  // set by the writer thread; the caller drops it when woken
    size_t tree_index = 0;
    std::mutex mu;               // guards done
    std::condition_variable cv;  // signalled when done is set
    bool done = false;
  };

  Status Submit(OpPtr op);  // Enqueue, wait, wake the op's children in the tree.
  bool Enqueue(OpPtr op, size_t* queued_out);
  void Run();
  void ExecuteBatch(std::vector<OpPtr>& batch);
  // Runs a batch of single statements and rerunnable writes in one transaction without
  // SAVEPOINTs. False, with the transaction rolled back, when a rerunnable write failed or SQLite
  // ended the transaction: the batch must run again, with SAVEPOINTs.
  bool ExecuteWithoutSavepoints(std::vector<OpPtr>& batch);
  // Commits the open transaction of batch[first, end) if any of those writes succeeded, else
  // rolls it back; a failed COMMIT becomes the status of every write that had succeeded.
  void EndTransaction(std::vector<OpPtr>& batch, size_t first);
  Status RunOp(Op& op);
  Status Exec(const char* sql);
  static void Complete(std::vector<OpPtr>& batch);
  static void Wake(Op& op);

  std::unique_ptr<SqliteConnection> conn_;  // used only by the writer thread until stopped
  const Options options_;

  mutable std::mutex mu_;  // guards queue_, in_flight_, wake_at_, batches_done_, stopping_
  std::condition_variable work_cv_;  // signalled when the queue reaches wake_at_ or on stop
  std::deque<OpPtr> queue_;
  size_t in_flight_ = 0;
  size_t wake_at_ = 1;  // queue length at which Enqueue wakes the thread (> 1 while gathering)
  uint64_t batches_done_ = 0;
  bool stopping_ = false;

  bool stopped_ = false;  // set by Stop() after the join; read by the stopping thread only
  std::thread thread_;
};

}  // namespace jrvs::store
