// WS /ws/chat (JRVS-compatible): chat over a WebSocket with real token streaming, on top of the
// same ChatService as POST /api/chat.
//
// Protocol, one JSON text message per frame:
//   client -> {"message": "...", "session_id"?: "...", "model"?: "..."}
//             (validated like POST /api/chat: message 1..10000 characters, session_id
//             ^[A-Za-z0-9_-]{1,128}$)
//   server -> {"type":"chunk","content":"..."}            one per generated token, as it arrives
//             {"type":"sources","sources":[...]}           the numbered sources of the answer
//             {"type":"done","session_id":"...","model_used":"...","context_used":bool,
//              "response":"...","timings":{...}}          the turn is complete and stored
//             {"type":"error","code":"invalid_argument","message":"..."}  the turn failed; the
//             socket stays open for the next message
// Messages are answered in turn. Without a session_id a message continues the connection's
// session (a new random id on its first turn), so a client that only sends "message" still gets
// history; with one, that session becomes the connection's session. A client that disconnects
// mid-answer cancels the model call through MessageSink::gone().
//
// Thread safety: ChatWebSocket is immutable after construction and safe to share; each
// conversation is driven by one thread at a time (see api/websocket_types.h).
#pragma once

#include <memory>

#include "api/http_types.h"
#include "api/websocket_types.h"
#include "rag/chat_service.h"

namespace jrvs::api {

class ChatWebSocket {
 public:
  // `chat` must outlive every conversation created by Open().
  explicit ChatWebSocket(rag::ChatService& chat);

  // The WebSocketHandler of /ws/chat: a conversation for one accepted connection.
  std::unique_ptr<WebSocketConversation> Open(const Request& upgrade) const;

 private:
  rag::ChatService& chat_;
};

}  // namespace jrvs::api
