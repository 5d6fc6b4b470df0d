#include "http/server.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/connection.h"
#include "http/middleware.h"
#include "http/worker_pool.h"

namespace jrvs::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;
// After the grace period connections are shut down; this bounds the wait for their coroutines.
constexpr int64_t kForcedCloseWaitMs = 2000;

int DefaultThreads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

Status Invalid(const std::string& field, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "server." + field + ": " + why);
}

void LogException(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("http: {} failed: {}", what, ex.what());
  } catch (...) {
    spdlog::error("http: {} failed with a non-standard exception", what);
  }
}

}  // namespace

Status ValidateServerOptions(const ServerOptions& o) {
  if (o.host.empty()) return Invalid("host", "must not be empty");
  if (o.io_threads < 0 || o.io_threads > 256) return Invalid("io_threads", "must be 0..256");
  if (o.worker_threads < 0 || o.worker_threads > 1024) {
    return Invalid("worker_threads", "must be 0..1024");
  }
  if (o.max_queued_requests > 1'000'000) {
    return Invalid("max_queued_requests", "must be at most 1000000");
  }
  if (o.slow_worker_threads < 1 || o.slow_worker_threads > 1024) {
    return Invalid("slow_worker_threads", "must be 1..1024");
  }
  if (o.max_queued_slow_requests > 1'000'000) {
    return Invalid("max_queued_slow_requests", "must be at most 1000000");
  }
  if (o.max_websocket_sessions > 1'000'000) {
    return Invalid("max_websocket_sessions", "must be at most 1000000");
  }
  if (o.ws_max_message_bytes == 0 || o.ws_max_message_bytes > (16U << 20)) {
    return Invalid("ws_max_message_bytes", "must be 1..16777216");
  }
  if (o.body_limit_bytes == 0 || o.body_limit_bytes > (1ULL << 32)) {
    return Invalid("body_limit_bytes", "must be 1..4294967296");
  }
  if (o.max_header_bytes < 1024 || o.max_header_bytes > (1U << 20)) {
    return Invalid("max_header_bytes", "must be 1024..1048576");
  }
  const std::pair<const char*, int64_t> timeouts[] = {{"header_timeout_ms", o.header_timeout_ms},
                                                      {"body_timeout_ms", o.body_timeout_ms},
                                                      {"idle_timeout_ms", o.idle_timeout_ms},
                                                      {"write_timeout_ms", o.write_timeout_ms},
                                                      {"ws_idle_timeout_ms", o.ws_idle_timeout_ms}};
  for (const auto& [name, value] : timeouts) {
    if (value <= 0 || value > kMaxTimeoutMs) return Invalid(name, "must be 1..86400000");
  }
  if (o.shutdown_grace_ms < 0 || o.shutdown_grace_ms > kMaxTimeoutMs) {
    return Invalid("shutdown_grace_ms", "must be 0..86400000");
  }
  for (const auto& origin : o.cors_allowed_origins) {
    if (origin.empty()) return Invalid("cors_allowed_origins", "empty origin");
  }
  return Status::Ok();
}

class Server::Impl {
 public:
  Impl(ServerOptions options, Router router, MetricsRegistry* registry)
      : options_(std::move(options)),
        router_(std::move(router)),
        registry_(registry),
        cors_(options_.cors_allowed_origins) {}

  ~Impl() {
    Stop();
    if (stopper_.joinable()) {
      if (stopper_.get_id() == std::this_thread::get_id()) {
        stopper_.detach();
      } else {
        stopper_.join();
      }
    }
    // Destroy the io machinery first: it may still hold connection frames that refer to the
    // members below.
    acceptor_.reset();
    guards_.clear();
    contexts_.clear();
  }

  Status Start();
  void Stop();
  void Wait();
  uint16_t port() const { return port_.load(); }

 private:
  asio::awaitable<void> AcceptLoop();
  void DoStop();
  bool OnOwnThread() const;

  ServerOptions options_;
  Router router_;
  MetricsRegistry* registry_;
  CorsPolicy cors_;
  std::unique_ptr<HttpMetrics> metrics_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<WorkerPool> slow_pool_;
  internal::ConnectionTracker tracker_;
  std::unique_ptr<internal::ServerShared> shared_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> websocket_sessions_{0};
  std::atomic<uint16_t> port_{0};

  std::mutex state_mu_;  // guards started_, stop_requested_, stopped_, stopper_
  std::condition_variable state_cv_;
  bool started_ = false;
  bool stop_requested_ = false;
  bool stopped_ = false;
  std::thread stopper_;

  std::vector<std::thread> io_threads_;                      // written in Start() only, read after
  std::vector<std::unique_ptr<asio::io_context>> contexts_;  // one per I/O thread
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::unique_ptr<tcp::acceptor> acceptor_;  // lives on contexts_[0]
};

Status Server::Impl::Start() {
  if (Status s = ValidateServerOptions(options_); !s.ok()) return s;
  std::lock_guard lock(state_mu_);
  if (started_ || stop_requested_) {
    return Status(StatusCode::kFailedPrecondition, "server already started or stopped");
  }

  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (ec) {
    asio::io_context resolver_context;
    tcp::resolver resolver(resolver_context);
    auto results = resolver.resolve(options_.host, "", ec);
    if (ec || results.empty()) {
      return Invalid("host", "cannot resolve '" + options_.host + "'");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, options_.port);

  size_t io_threads =
      static_cast<size_t>(options_.io_threads > 0 ? options_.io_threads : DefaultThreads());
  for (size_t i = 0; i < io_threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
  }
  acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  auto fail = [&](const char* step) {
    std::string message = std::string("cannot ") + step + " " + options_.host + ":" +
                          std::to_string(options_.port) + ": " + ec.message();
    acceptor_.reset();
    contexts_.clear();
    return Status(StatusCode::kUnavailable, message);
  };
  acceptor_->open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("configure");
  acceptor_->bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  port_ = acceptor_->local_endpoint(ec).port();

  std::vector<std::string> patterns;
  for (size_t i = 0; i < router_.route_count(); ++i) {
    patterns.emplace_back(router_.pattern(static_cast<int>(i)));
  }
  metrics_ = std::make_unique<HttpMetrics>(registry_, patterns);
  WorkerPoolOptions pool_options;
  pool_options.threads =
      static_cast<size_t>(options_.worker_threads > 0 ? options_.worker_threads : DefaultThreads());
  pool_options.max_queued = options_.max_queued_requests;
  pool_options.queue_depth = metrics_->queue_depth();
  pool_ = std::make_unique<WorkerPool>(std::move(pool_options));
  WorkerPoolOptions slow_options;
  slow_options.threads = static_cast<size_t>(options_.slow_worker_threads);
  slow_options.max_queued = options_.max_queued_slow_requests;
  slow_options.name = "jrvs-slow";
  slow_options.queue_depth = metrics_->slow_queue_depth();
  slow_pool_ = std::make_unique<WorkerPool>(std::move(slow_options));
  shared_ = std::make_unique<internal::ServerShared>(
      internal::ServerShared{options_, router_, *pool_, *slow_pool_, *metrics_, cors_, stopping_,
                             tracker_, websocket_sessions_});

  for (auto& context : contexts_) guards_.push_back(asio::make_work_guard(*context));
  asio::co_spawn(*contexts_[0], AcceptLoop(),
                 [](std::exception_ptr e) { LogException("accept loop", e); });
  for (size_t i = 0; i < io_threads; ++i) {
    io_threads_.emplace_back([this, i] {
      std::string name = "jrvs-io-" + std::to_string(i % 1000);
      pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        try {
          contexts_[i]->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: I/O thread {}: {}", i, e.what());
        }
      }
    });
  }
  started_ = true;
  spdlog::info("http: listening on {}:{} ({} I/O threads, {} workers, {} slow workers)",
               address.to_string(), port_.load(), io_threads, pool_->threads(),
               slow_pool_->threads());
  return Status::Ok();
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  size_t next = 0;
  for (;;) {
    asio::io_context& context = *contexts_[next++ % contexts_.size()];
    auto [ec, socket] = co_await acceptor_->async_accept(context, kTuple);
    if (stopping_.load()) break;
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) break;
      // Out of file descriptors or a transient network error: back off instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
      asio::steady_timer pause(*contexts_[0], std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    auto connection = std::make_shared<internal::Connection>(*shared_, std::move(socket));
    tracker_.Add(connection);
    asio::co_spawn(context, internal::Connection::Run(std::move(connection)),
                   [](std::exception_ptr e) { LogException("connection", e); });
  }
}

bool Server::Impl::OnOwnThread() const {
  auto self = std::this_thread::get_id();
  if (std::any_of(io_threads_.begin(), io_threads_.end(),
                  [self](const std::thread& t) { return t.get_id() == self; })) {
    return true;
  }
  return (pool_ && pool_->OnWorkerThread()) || (slow_pool_ && slow_pool_->OnWorkerThread()) ||
         stopper_.get_id() == self;
}

void Server::Impl::Stop() {
  {
    std::lock_guard lock(state_mu_);
    if (!started_) {
      stop_requested_ = true;
      stopped_ = true;
      state_cv_.notify_all();
      return;
    }
    if (!stop_requested_) {
      stop_requested_ = true;
      // Set before returning, so a handler that calls Stop() sees its own response marked
      // Connection: close.
      stopping_ = true;
      stopper_ = std::thread([this] { DoStop(); });
    }
  }
  if (!OnOwnThread()) Wait();
}

void Server::Impl::Wait() {
  std::unique_lock lock(state_mu_);
  state_cv_.wait(lock, [this] { return stopped_ || !started_; });
}

void Server::Impl::DoStop() {
  pthread_setname_np(pthread_self(), "jrvs-stop");
  asio::post(*contexts_[0], [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
  });
  // Phase 1: idle connections close now; busy ones finish their request and then close.
  for (auto& connection : tracker_.Snapshot()) {
    asio::post(connection->executor(), [connection] { connection->CloseIfIdle(); });
  }
  if (!tracker_.WaitEmpty(options_.shutdown_grace_ms)) {
    // Phase 2: the grace period is over; cut what is left (streams see ClientGone()).
    auto left = tracker_.Snapshot();
    spdlog::warn("http: closing {} connection(s) still busy after the {} ms grace period",
                 left.size(), options_.shutdown_grace_ms);
    for (auto& connection : left) {
      asio::post(connection->executor(), [connection] { connection->ForceClose(); });
    }
  }
  // Queued handlers are cancelled (their clients get nothing more: connections are closing);
  // running ones are waited for.
  pool_->Shutdown();
  slow_pool_->Shutdown();
  if (!tracker_.WaitEmpty(kForcedCloseWaitMs)) {
    spdlog::warn("http: connections still open at shutdown; abandoning them");
  }
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& t : io_threads_) t.join();
  spdlog::info("http: stopped");
  std::lock_guard lock(state_mu_);
  stopped_ = true;
  state_cv_.notify_all();
}

Server::Server(ServerOptions options, Router router, MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), metrics)) {}

Server::~Server() = default;

Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }

}  // namespace jrvs::http
