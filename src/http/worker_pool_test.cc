#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace jrvs::http {
namespace {

// A gate tasks wait on until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(WorkerPoolTest, RunsTasksOnWorkerThreads) {
  WorkerPool pool({.threads = 2, .max_queued = 16});
  std::promise<std::thread::id> where;
  auto future = where.get_future();
  ASSERT_TRUE(pool.TryPost(WorkerPool::Task([&where, &pool](bool run) {
    EXPECT_TRUE(run);
    EXPECT_TRUE(pool.OnWorkerThread());
    where.set_value(std::this_thread::get_id());
  })));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(future.get(), std::this_thread::get_id());
  EXPECT_FALSE(pool.OnWorkerThread());
}

TEST(WorkerPoolTest, BoundedQueueRejectsAndCallsTaskWithFalse) {
  Gate gate;
  std::promise<void> started;
  Gauge depth;
  WorkerPool pool({.threads = 1, .max_queued = 1, .queue_depth = &depth});
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.TryPost(WorkerPool::Task([&](bool run) {
    if (run) {
      started.set_value();
      gate.Wait();
      ++ran;
    }
  })));
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  // The only worker is busy: one task may wait, the next is rejected at once.
  ASSERT_TRUE(pool.TryPost(WorkerPool::Task([&](bool run) {
    if (run) ++ran;
  })));
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_EQ(depth.Value(), 1.0);
  bool rejected_called_with = true;
  EXPECT_FALSE(pool.TryPost(WorkerPool::Task([&](bool run) { rejected_called_with = run; })));
  EXPECT_FALSE(rejected_called_with);
  gate.Open();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ran.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(ran.load(), 2);  // the waiting task ran once the worker was free
  EXPECT_EQ(depth.Value(), 0.0);
  pool.Shutdown();
}

TEST(WorkerPoolTest, ShutdownCancelsWaitingTasksAndWaitsForRunningOnes) {
  Gate gate;
  std::promise<void> started;
  WorkerPool pool({.threads = 1, .max_queued = 4});
  std::atomic<bool> first_finished{false};
  std::atomic<int> cancelled{0};
  ASSERT_TRUE(pool.TryPost(WorkerPool::Task([&](bool run) {
    ASSERT_TRUE(run);
    started.set_value();
    gate.Wait();
    first_finished = true;
  })));
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.TryPost(WorkerPool::Task([&](bool run) {
      if (!run) ++cancelled;
    })));
  }
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.Open();
  });
  pool.Shutdown();
  opener.join();
  EXPECT_TRUE(first_finished);
  EXPECT_EQ(cancelled.load(), 3);
  bool late_run = true;
  EXPECT_FALSE(pool.TryPost(WorkerPool::Task([&](bool run) { late_run = run; })));
  EXPECT_FALSE(late_run);
  pool.Shutdown();  // idempotent
}

TEST(WorkerPoolTest, ZeroQueueStillUsesIdleWorkers) {
  WorkerPool pool({.threads = 2, .max_queued = 0});
  std::promise<void> done;
  // Admission counts idle workers and workers not started yet.
  bool accepted = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepted && std::chrono::steady_clock::now() < deadline) {
    accepted = pool.TryPost(WorkerPool::Task([&](bool run) {
      if (run) done.set_value();
    }));
    if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(accepted);
  EXPECT_EQ(done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST(WorkerPoolTest, ThreadsStartOnDemandAndStay) {
  WorkerPool pool({.threads = 8, .max_queued = 0});
  EXPECT_EQ(pool.threads(), 8u);
  EXPECT_EQ(pool.started_threads(), 0u) << "an idle pool holds no threads";

  // Three tasks that block together need three workers, no more.
  Gate gate;
  std::atomic<int> running{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.TryPost(WorkerPool::Task([&](bool run) {
      if (!run) return;
      ++running;
      gate.Wait();
    })));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (running.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(running.load(), 3);
  EXPECT_EQ(pool.started_threads(), 3u);
  gate.Open();

  pool.Shutdown();
}

TEST(WorkerPoolTest, OnDemandThreadsCountTowardsAdmission) {
  // A fresh pool (a worker still finishing its last task would count as busy): max_queued 0,
  // so exactly as many blocking tasks as threads are accepted, and the next is refused.
  WorkerPool pool({.threads = 8, .max_queued = 0});
  Gate second;
  std::atomic<int> busy{0};
  int accepted = 0;
  for (int i = 0; i < 9; ++i) {
    accepted += pool.TryPost(WorkerPool::Task([&](bool run) {
      if (!run) return;
      ++busy;
      second.Wait();
    }));
  }
  EXPECT_EQ(accepted, 8);
  EXPECT_EQ(pool.started_threads(), 8u);
  // Every accepted task runs on its own worker (none is left waiting for a thread).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (busy.load() < 8 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(busy.load(), 8);
  second.Open();
  pool.Shutdown();
}

}  // namespace
}  // namespace jrvs::http
