// Internal to http/ (includes Boost; never include from another layer): one client connection,
// served by one coroutine on one io_context thread. See server.h for the behaviour it implements.
//
// Timeouts: before each socket operation the coroutine sets a deadline (a plain store); a
// watchdog timer per connection checks it and shuts the socket down once it passes. The watchdog
// sleeps at most the smallest configured timeout at a time, so a deadline from a configured
// timeout can never fall before its next wake-up and no timer is touched per request.
//
// Thread safety: a Connection is driven by its coroutines on its io_context's single thread;
// CloseIfIdle() and ForceClose() must be posted to executor() (the server does so from Stop()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/middleware.h"
#include "http/router.h"
#include "http/server.h"
#include "http/worker_pool.h"

namespace jrvs::http::internal {

class Connection;
class StreamBridge;
class WebSocketSession;
struct Exchange;

// The set of live connections, so Stop() can reach them and wait for them to end.
// Thread-safe.
class ConnectionTracker {
 public:
  void Add(const std::shared_ptr<Connection>& connection);
  void Remove(Connection* connection);
  std::vector<std::shared_ptr<Connection>> Snapshot() const;
  // Waits until no connection is left or `timeout_ms` passed; true if none is left.
  bool WaitEmpty(int64_t timeout_ms);

 private:
  mutable std::mutex mu_;  // guards connections_
  std::condition_variable cv_;
  std::unordered_set<std::shared_ptr<Connection>> connections_;
};

// What connections share with their server; owned by the server and outliving every connection.
struct ServerShared {
  const ServerOptions& options;
  const Router& router;
  WorkerPool& pool;       // handlers
  WorkerPool& slow_pool;  // handlers of `slow` routes and streaming producers
  HttpMetrics& metrics;
  const CorsPolicy& cors;
  const std::atomic<bool>& stopping;  // Stop() began: finish the current request, then close
  ConnectionTracker& tracker;
  std::atomic<size_t>& websocket_sessions;  // open WebSocket sessions (max_websocket_sessions)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerShared& shared, boost::asio::ip::tcp::socket socket);
  ~Connection();

  // The connection's coroutine: serves requests until the client leaves, a limit or timeout
  // ends it, or the server stops. Removes itself from the tracker when done.
  static boost::asio::awaitable<void> Run(std::shared_ptr<Connection> self);

  boost::asio::any_io_executor executor();
  // Stop() phase 1: close the connection if it is waiting for a request (not mid-request).
  void CloseIfIdle();
  // Stop() phase 2: shut the socket down whatever it is doing; a stream sees ClientGone().
  void ForceClose();

  // For the WebSocket session running on this connection: the watchdog's deadline (see above).
  void SetDeadline(int64_t timeout_ms);
  void ClearDeadline();

 private:
  using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using SteadyClock = std::chrono::steady_clock;

  static boost::asio::awaitable<void> Watch(std::shared_ptr<Connection> self);
  // Shuts the socket down both ways and cancels its operations; the descriptor stays open (a
  // streaming producer may be peeking at it) until the coroutine ends.
  void Shut();

  boost::asio::awaitable<void> Serve();
  // Reads the body, routes, runs the handler and answers; returns whether to keep the
  // connection open for another request.
  boost::asio::awaitable<bool> ServeRequest(RequestParser& parser);
  // Answers a request whose header could not be read (400, 413, 431); the connection then closes.
  boost::asio::awaitable<void> SendError(RequestParser& parser, StatusCode code, int status,
                                         std::string message);
  boost::asio::awaitable<void> Send(Exchange& ex, api::Response& response);
  boost::asio::awaitable<void> SendStream(Exchange& ex, api::Response& response);
  // Hands the connection to a WebSocket session (the upgrade request is in `parser`) and serves it
  // until the socket closes.
  boost::asio::awaitable<void> ServeWebSocket(Exchange& ex, RequestParser& parser,
                                              const api::WebSocketHandler& handler);
  void RecordFinished(const Exchange& ex, int status, uint64_t bytes);
  // Shuts the send side, drains what the client still sends for a moment, then closes.
  boost::asio::awaitable<void> CloseGracefully();

  ServerShared& shared_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer watchdog_;
  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
  std::chrono::milliseconds watch_step_;  // the smallest timeout: the watchdog's longest sleep
  bool finished_ = false;                 // the coroutine ended; the watchdog stops
  boost::beast::flat_buffer buffer_;      // read-ahead bytes, reused across requests
  std::string head_;                      // the response head being written, reused
  std::unique_ptr<Exchange> exchange_;    // the current request, reused across requests
  std::string remote_address_;            // "ip:port" of the peer
  bool idle_ = false;          // waiting for the first byte of a request (or lingering to close)
  bool force_closed_ = false;  // ForceClose() ran
  std::shared_ptr<StreamBridge> active_stream_;  // the streaming response in progress
  std::shared_ptr<WebSocketSession> websocket_;  // set once the connection was upgraded
};

}  // namespace jrvs::http::internal
