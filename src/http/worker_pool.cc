#include "http/worker_pool.h"

#include <pthread.h>

#include <algorithm>

namespace jrvs::http {

namespace {
// The pool whose worker this thread is (null on other threads).
thread_local const WorkerPool* current_pool = nullptr;
}  // namespace

WorkerPool::WorkerPool(WorkerPoolOptions options)
    : options_(std::move(options)), max_threads_(std::max<size_t>(1, options_.threads)) {
  threads_.reserve(max_threads_);  // never reallocated while workers run
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::StartWorkerLocked() {
  const size_t i = threads_.size();
  ++idle_;  // counted idle until it takes its first task, so admission sees it at once
  threads_.emplace_back([this, i] {
    current_pool = this;
    std::string name = options_.name.substr(0, 11) + "-" + std::to_string(i % 1000);
    pthread_setname_np(pthread_self(), name.c_str());
    Loop(/*counted_idle=*/true);
  });
}

bool WorkerPool::TryPost(Task task) {
  {
    std::lock_guard lock(mu_);
    const size_t not_started = max_threads_ - threads_.size();
    if (!shutdown_ && queue_.size() < options_.max_queued + idle_ + not_started) {
      queue_.push_back(std::move(task));
      if (options_.queue_depth != nullptr) {
        options_.queue_depth->Set(static_cast<double>(queue_.size()));
      }
      if (queue_.size() > idle_ && not_started > 0) StartWorkerLocked();
      cv_.notify_one();
      return true;
    }
  }
  task(false);
  return false;
}

void WorkerPool::Loop(bool counted_idle) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!counted_idle) ++idle_;
    counted_idle = false;
    cv_.wait(lock, [this] { return shutdown_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // shut down
    Task task = std::move(queue_.front());
    queue_.pop_front();
    if (options_.queue_depth != nullptr) {
      options_.queue_depth->Set(static_cast<double>(queue_.size()));
    }
    lock.unlock();
    task(true);
    lock.lock();
  }
}

void WorkerPool::Shutdown() {
  std::deque<Task> cancelled;
  {
    std::lock_guard lock(mu_);
    if (!shutdown_) {
      shutdown_ = true;
      cancelled.swap(queue_);
      if (options_.queue_depth != nullptr) options_.queue_depth->Set(0);
    }
    cv_.notify_all();
  }
  for (auto& task : cancelled) task(false);
  std::lock_guard join_lock(join_mu_);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool WorkerPool::OnWorkerThread() const { return current_pool == this; }

size_t WorkerPool::started_threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace jrvs::http
