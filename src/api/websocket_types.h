// Transport-neutral WebSocket types: what a WebSocket route (e.g. /ws/chat) implements, so the
// api layer stays free of Beast and its handlers are testable without sockets. http/ accepts the
// upgrade, reads and writes frames, answers pings and closes; api/ only sees text messages.
//
// Per connection: the route's WebSocketHandler creates one WebSocketConversation when the upgrade
// is accepted. Each text message the client sends is passed to OnMessage() in arrival order, one
// at a time, on a worker thread of the server's slow pool (it may block on an LLM); the
// conversation answers through the MessageSink with as many text messages as it likes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string_view>

#include "api/http_types.h"

namespace jrvs::api {

// Sends text messages to one WebSocket client. Used from one worker thread at a time.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Sends one text message. Blocks until the connection has written it (back-pressure: a slow
  // client slows the producer instead of growing a queue); false once the client is gone.
  virtual bool Send(std::string_view text) = 0;
  // Becomes true as soon as the client closes, the connection fails or the server stops, even
  // while the producer is blocked elsewhere: pass it as the cancel flag of a blocking call that
  // polls one (an LLM stream) so a client that leaves mid-answer cancels the upstream call.
  virtual const std::atomic<bool>& gone() const = 0;
};

// The server side of one WebSocket connection. OnMessage() is never called concurrently for one
// conversation; the object is destroyed after its last OnMessage() returned.
class WebSocketConversation {
 public:
  virtual ~WebSocketConversation() = default;
  // One text message from the client (binary messages are passed the same way).
  virtual void OnMessage(std::string_view text, MessageSink& sink) = 0;
};

// Creates the conversation for an accepted upgrade request. Runs on an I/O thread: must be cheap
// and never block.
using WebSocketHandler = std::function<std::unique_ptr<WebSocketConversation>(const Request&)>;

}  // namespace jrvs::api
