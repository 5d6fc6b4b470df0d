// Helpers shared by the server tests (*_test.cc in this directory); not part of the library.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "http/server.h"

namespace jrvs::http::test {

// Starts a server on 127.0.0.1 and an ephemeral port, with 2 I/O and 2 worker threads unless
// `options` says otherwise. Fails the test if it cannot start.
inline std::unique_ptr<Server> StartServer(Router router, ServerOptions options = {},
                                           MetricsRegistry* metrics = nullptr) {
  options.host = "127.0.0.1";
  options.port = 0;
  if (options.io_threads == 0) options.io_threads = 2;
  if (options.worker_threads == 0) options.worker_threads = 2;
  auto server = std::make_unique<Server>(std::move(options), std::move(router), metrics);
  Status started = server->Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
  EXPECT_NE(server->port(), 0);
  return server;
}

// Parses a JSON body; a null value (and a test failure) if it is not JSON.
inline boost::json::value Json(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << body;
  return v;
}

// The "error" object of an api::ErrorResponse body.
inline boost::json::object ErrorOf(const std::string& body) {
  boost::json::value v = Json(body);
  if (!v.is_object() || !v.as_object().contains("error") ||
      !v.as_object().at("error").is_object()) {
    ADD_FAILURE() << "not an error body: " << body;
    return {};
  }
  return v.as_object().at("error").as_object();
}

inline std::string Str(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return "<missing>";
  return std::string(it->value().as_string());
}

// A gate handlers wait on until the test opens it; also counts arrivals.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Counts the arrival, then waits for Open() (at most `limit`, so a failing test cannot hang).
  bool Wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    ++arrived_;
    cv_.notify_all();
    return cv_.wait_for(lock, limit, [this] { return open_; });
  }
  // Waits until `n` callers have arrived.
  bool WaitArrivals(int n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return arrived_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int arrived_ = 0;
};

// Polls `condition` every 5 ms until it holds or `limit` passes.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace jrvs::http::test
