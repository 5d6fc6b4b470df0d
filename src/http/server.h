// The HTTP/1.1 server: Boost.Beast + Asio C++20 coroutines behind a Boost-free interface.
//
// Threads: `io_threads` threads each run their own io_context; the listener deals accepted
// connections round-robin between them and each connection is one coroutine that lives on one
// thread (no strands, no locks on the request path). Handlers run on a bounded worker pool unless
// their route says `run_on_io_thread`, or on a second bounded pool if it says `slow` (streaming
// producers always do); the coroutine resumes on its own thread afterwards. A full queue answers
// 503 at once.
//
// Per connection: keep-alive; pipelined requests answered in order, one at a time; a request
// parser bounded by `max_header_bytes` and `body_limit_bytes`; timeouts for the first byte of the
// next request (idle), the header, the body and each write. Per request: an X-Request-ID (the
// client's if valid, else generated), routing, CORS, the exception firewall (anything thrown by a
// handler is a JSON 500 with the request id; what() only goes to the log), metrics and the access
// log. Streaming responses (api::Response::stream) are sent with chunked transfer encoding.
//
// WebSocket routes (Router::AddWebSocket): a GET with `Upgrade: websocket` on such a route is
// handed, with the connection's socket, to a WebSocket session (http/websocket_session.h) that
// accepts the upgrade, runs the route's api::WebSocketConversation (each message on the slow pool,
// writes on the connection's thread) and ends the connection when the socket closes. A session
// counts as a connection for Stop(); at most `max_websocket_sessions` are open at a time (more are
// a 503). Browsers do not preflight WebSockets, so an upgrade whose Origin is neither the Host
// itself nor allowed by CORS is refused (403): another site's page cannot talk to a local jrvs.
//
// Thread safety: Start() once from one thread; port() is safe after Start(); Stop() and Wait() are
// safe from any thread, including handler threads, and Stop() is idempotent. The server owns the
// router; the metrics registry must outlive the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "http/router.h"

namespace jrvs::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // address to bind: an IPv4/IPv6 literal or "localhost"
  uint16_t port = 8000;            // TCP port; 0 = an ephemeral port, see Server::port()
  int io_threads = 0;              // threads running connections; 0 = hardware cores, 1..256
  int worker_threads = 0;          // threads running handlers; 0 = hardware cores, 1..1024
  // Requests that may wait for a worker while all are busy; beyond that a fast 503. 0..1e6.
  size_t max_queued_requests = 256;
  // Threads for `slow` routes, streaming producers and WebSocket messages (LLM, scraping): each
  // streamed chat holds one for its whole answer (the LLM client blocks), but they only wait on
  // I/O, so many more than cores: 128 lets 100+ chats stream at once. 1..1024
  int slow_worker_threads = 128;
  // Slow requests and streams that may wait for a slow worker; beyond that a fast 503. 0..1e6.
  size_t max_queued_slow_requests = 256;
  size_t body_limit_bytes = 1 << 20;    // largest request body; larger is 413 (1 MiB)
  size_t max_header_bytes = 16 * 1024;  // request line + headers; larger is 431 (16 KiB)
  // Milliseconds from a request's first byte (or from connect) until its header is complete; a
  // slow-loris client dribbling headers is cut off here. > 0.
  int64_t header_timeout_ms = 10'000;
  int64_t body_timeout_ms = 30'000;   // ms to receive the whole body after the header; > 0
  int64_t idle_timeout_ms = 30'000;   // ms a keep-alive connection may wait for its next request
  int64_t write_timeout_ms = 30'000;  // ms to write a response or one streamed chunk; > 0
  // WebSocket sessions open at once; an upgrade beyond that is a 503. 0..1e6
  size_t max_websocket_sessions = 1024;
  // Largest WebSocket message a client may send; a larger one closes the socket (1009). 1..16 MiB
  size_t ws_max_message_bytes = 64 * 1024;
  // ms a WebSocket may stay open with no message from the client and nothing being answered. > 0
  int64_t ws_idle_timeout_ms = 300'000;
  // On Stop(): ms in-flight requests and streams get to finish before connections are closed. >= 0
  int64_t shutdown_grace_ms = 10'000;
  // Origins allowed by CORS ("https://app.example", or "*" for any); empty = CORS off.
  std::vector<std::string> cors_allowed_origins;
  // One info line per request (method, target, status, bytes, ms, request id, peer). Off by
  // default: it costs a log write per request under load.
  bool access_log = false;
};

// InvalidArgument naming the first bad field, or OK.
Status ValidateServerOptions(const ServerOptions& options);

class Server {
 public:
  // `metrics` may be null (no metrics). The router is moved in and frozen.
  Server(ServerOptions options, Router router, MetricsRegistry* metrics);
  ~Server();  // Stop() and join every thread
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the options, binds and listens (Unavailable if the address is in use or cannot be
  // bound), then starts the I/O and worker threads. Call once.
  Status Start();

  // The bound port (the ephemeral one when options.port is 0); 0 before a successful Start().
  uint16_t port() const;

  // Graceful stop: stop accepting, close idle connections, let in-flight requests and streams
  // finish for up to shutdown_grace_ms (their responses carry Connection: close), then close
  // every connection (streams see ClientGone()), cancel queued handlers and join all threads.
  // Blocks until done unless called from one of the server's own threads, in which case it
  // starts the stop and returns; Wait() then blocks until it is done.
  void Stop();

  // Blocks until the server has stopped (returns at once if it never started).
  void Wait();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::http
