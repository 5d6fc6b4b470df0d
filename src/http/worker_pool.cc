#include "http/worker_pool.h"

#include <pthread.h>

#include <algorithm>

namespace jrvs::http {

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(std::move(options)) {
  size_t n = std::max<size_t>(1, options_.threads);
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      std::string name = options_.name.substr(0, 11) + "-" + std::to_string(i % 1000);
      pthread_setname_np(pthread_self(), name.c_str());
      Loop();
    });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TryPost(Task task) {
  {
    std::lock_guard lock(mu_);
    if (!shutdown_ && queue_.size() < options_.max_queued + idle_) {
      queue_.push_back(std::move(task));
      if (options_.queue_depth != nullptr) {
        options_.queue_depth->Set(static_cast<double>(queue_.size()));
      }
      cv_.notify_one();
      return true;
    }
  }
  task(false);
  return false;
}

void WorkerPool::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
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

bool WorkerPool::OnWorkerThread() const {
  auto self = std::this_thread::get_id();
  return std::any_of(threads_.begin(), threads_.end(),
                     [self](const std::thread& t) { return t.get_id() == self; });
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace jrvs::http
