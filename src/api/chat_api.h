// Handlers for chat and models: POST /api/chat (JSON, or Server-Sent Events with stream:true),
// GET /api/models, POST /api/models/switch/{name}. Chat handlers block on the LLM: register them
// as slow routes so they run on the server's slow pool. Thread-safe.
#pragma once

#include "api/http_types.h"
#include "rag/chat_service.h"

namespace jrvs::api {

class ChatApi {
 public:
  explicit ChatApi(rag::ChatService& chat);

  Response Chat(const Request& request) const;
  Response ListModels(const Request& request) const;
  Response SwitchModel(const Request& request) const;

 private:
  rag::ChatService& chat_;
};

// A new random session id (32 hex digits).
std::string NewSessionId();

}  // namespace jrvs::api
