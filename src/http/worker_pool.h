// Up to `threads` threads running move-only tasks from a bounded FIFO queue: where the server runs
// handlers that may block (database, LLM, scraping) so I/O threads never do.
//
// Threads start on demand: a task that finds no idle worker starts a new one until `threads` run,
// and they then stay for the pool's life. So a large pool (the slow pool allows 128 streaming
// chats) costs nothing while idle; a busy one keeps its threads.
//
// Admission: a task is accepted while fewer than `max_queued` tasks wait with every worker busy
// (idle workers, and workers not started yet, absorb tasks on top of that), so with 1 worker and
// max_queued 1 the first task runs, the second waits and the third is rejected. A rejected task
// is a fast 503 for the caller.
//
// Every task is called exactly once: with run=true on a worker thread, or with run=false when it
// is rejected (on the posting thread, before TryPost returns) or cancelled by Shutdown (on the
// thread calling Shutdown). Thread safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/metrics.h"

namespace jrvs::http {

struct WorkerPoolOptions {
  size_t threads = 1;       // worker threads, >= 1
  size_t max_queued = 256;  // tasks that may wait while all workers are busy; 0 = none wait
  std::string name = "jrvs-worker";  // thread name prefix (visible in top/perf), <= 11 chars used
  Gauge* queue_depth = nullptr;      // if set, kept equal to the number of waiting tasks
};

class WorkerPool {
 public:
  // A move-only callable `void(bool run)`.
  class Task {
   public:
    Task() = default;
    template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Task>>>
    explicit Task(F&& f) : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}
    explicit operator bool() const { return impl_ != nullptr; }
    void operator()(bool run) {
      auto impl = std::move(impl_);
      impl->Call(run);
    }

   private:
    struct Base {
      virtual ~Base() = default;
      virtual void Call(bool run) = 0;
    };
    template <typename F>
    struct Impl final : Base {
      explicit Impl(F&& f) : fn(std::move(f)) {}
      explicit Impl(const F& f) : fn(f) {}
      void Call(bool run) override { fn(run); }
      F fn;
    };
    std::unique_ptr<Base> impl_;
  };

  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool();  // Shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false if the queue is full or the pool shut down, after calling task(false).
  bool TryPost(Task task);

  // Stops accepting tasks, cancels the waiting ones (task(false)), waits for running tasks to
  // return and joins the threads. Idempotent; must not be called from a worker thread.
  void Shutdown();

  size_t queued() const;
  // The most threads the pool runs (they start on demand).
  size_t threads() const { return max_threads_; }
  // Threads started so far.
  size_t started_threads() const;
  // True when called from one of this pool's threads.
  bool OnWorkerThread() const;

 private:
  // Starts one more worker; mu_ held, threads_.size() < max_threads_.
  void StartWorkerLocked();
  void Loop(bool counted_idle);

  WorkerPoolOptions options_;
  size_t max_threads_;
  mutable std::mutex mu_;  // guards queue_, idle_, shutdown_, threads_ (growth)
  std::condition_variable cv_;
  std::deque<Task> queue_;
  size_t idle_ = 0;  // workers waiting for a task that no queued task is promised to yet
  bool shutdown_ = false;
  std::mutex join_mu_;  // serialises joining threads_ between concurrent Shutdown() calls
  std::vector<std::thread> threads_;  // grows under mu_ until shutdown_, then only joined
};

}  // namespace jrvs::http
