// Internal to http/ (includes Boost; never include from another layer): one upgraded WebSocket
// connection running a route's api::WebSocketConversation. See server.h for the behaviour and
// api/websocket_types.h for the contract with the api layer.
//
// Shape: the session borrows the connection's socket (the connection coroutine awaits Run(), so
// the socket, the connection's watchdog and its place in the server's tracker outlive it). Two
// coroutines on the connection's thread: the reader takes messages (Beast answers pings and close
// frames while it reads) and queues them; the writer writes what the outbox holds. Each message is
// handled on the slow pool, one at a time, in order; a producer's Send() blocks until the writer
// has written it. When the client leaves (or the server force-closes) the outbox turns gone(): the
// producer's Send() fails and its model call, polling gone(), is cancelled.
//
// Limits: messages above ws_max_message_bytes close the socket (1009); at most
// kMaxPendingMessages wait behind the running one (more get an error frame); the socket is closed
// after ws_idle_timeout_ms without a client message while nothing is being answered; each write
// has write_timeout_ms, our close handshake (on Stop()) 1 s so a client that never reads cannot
// hold Stop() for the grace period. Deadlines use the connection's watchdog.
//
// Thread safety: everything runs on the connection's thread except the outbox's producer side
// (MessageSink), which is called from a slow-pool worker and synchronises with a mutex.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "api/websocket_types.h"

namespace jrvs::http::internal {

class Connection;
struct ServerShared;

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
 public:
  using UpgradeRequest = boost::beast::http::request<boost::beast::http::string_body>;
  // Messages that may wait while one is being answered; more get an error frame.
  static constexpr size_t kMaxPendingMessages = 8;

  // `connection` and `socket` (the connection's) must outlive the session's coroutines, which
  // they do while the connection awaits Accept() and Run().
  WebSocketSession(Connection& connection, boost::asio::ip::tcp::socket& socket,
                   ServerShared& shared, std::string request_id);
  ~WebSocketSession();
  WebSocketSession(const WebSocketSession&) = delete;
  WebSocketSession& operator=(const WebSocketSession&) = delete;

  // Answers the upgrade with 101; false if the handshake failed (the connection then ends).
  boost::asio::awaitable<bool> Accept(const UpgradeRequest& upgrade);
  // Serves messages until the socket is closed and the last message's handler has returned.
  boost::asio::awaitable<void> Run(std::unique_ptr<api::WebSocketConversation> conversation);

  // Stop() phase 1: close (1001 going away) once the message being answered is done.
  void CloseIfIdle();
  // Stop() phase 2: the client counts as gone (the running handler is cancelled); the
  // connection shuts the socket.
  void ForceClose();

 private:
  class Outbox;

  static boost::asio::awaitable<void> ReadLoop(std::shared_ptr<WebSocketSession> self);
  void StartNextTurn();
  void TurnDone(bool ran, bool failed);
  void UpdateDeadline();
  bool ShouldClose() const;

  Connection& connection_;
  ServerShared& shared_;
  std::string request_id_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket&> ws_;
  boost::asio::steady_timer wake_;  // the writer sleeps on it; cancel() wakes it
  std::shared_ptr<Outbox> outbox_;
  std::unique_ptr<api::WebSocketConversation> conversation_;
  // Connection-thread state.
  std::deque<std::string> pending_;  // messages waiting for their turn
  bool turn_active_ = false;         // a message is being handled on the slow pool
  bool writing_ = false;             // the writer is writing a frame
  bool reader_done_ = false;         // the reader ended: the client is gone or closed
  bool close_requested_ = false;     // Stop() began: close when idle
  bool close_sent_ = false;
};

}  // namespace jrvs::http::internal
