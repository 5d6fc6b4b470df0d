#include "api/chat_ws.h"

#include <string>
#include <utility>

#include <boost/json.hpp>

#include "api/chat_api.h"
#include "api/chat_json.h"
#include "api/json_body.h"
#include "api/system_api.h"

namespace jrvs::api {

namespace json = boost::json;

namespace {

std::string ErrorFrame(const Status& status) {
  return json::serialize(json::object{
      {"type", "error"}, {"code", StatusCodeName(status.code())}, {"message", status.message()}});
}

std::string DoneFrame(const rag::ChatTurnResult& r) {
  json::object done = TurnJson(r, /*with_sources=*/false);
  done["type"] = "done";
  return json::serialize(done);
}

// A chat turn read from one client message; InvalidArgument naming the bad field.
Result<rag::ChatTurnRequest> ParseTurn(std::string_view text, const std::string& default_session) {
  auto body = JsonBody::Parse(text);
  if (!body) return Error(body.error());
  return ParseChatTurn(*body, default_session);
}

class ChatConversation final : public WebSocketConversation {
 public:
  explicit ChatConversation(rag::ChatService& chat) : chat_(chat) {}

  void OnMessage(std::string_view text, MessageSink& sink) override {
    auto turn = ParseTurn(text, session_id_);
    if (!turn) {
      sink.Send(ErrorFrame(turn.error()));
      return;
    }
    session_id_ = turn->session_id;
    auto on_token = [&sink](std::string_view token) {
      return sink.Send(json::serialize(json::object{{"type", "chunk"}, {"content", token}}));
    };
    // gone() turns true the moment the client leaves, even while the model has not produced a
    // token yet, so the upstream call is cancelled within its poll interval.
    auto result = chat_.Chat(*turn, on_token, &sink.gone());
    if (!result) {
      if (!sink.gone().load()) sink.Send(ErrorFrame(result.error()));
      return;
    }
    json::object sources{{"type", "sources"}, {"sources", SourcesJson(result->sources)}};
    if (!sink.Send(json::serialize(sources))) return;
    sink.Send(DoneFrame(*result));
  }

 private:
  rag::ChatService& chat_;
  std::string session_id_;  // the connection's session: the last turn's
};

}  // namespace

ChatWebSocket::ChatWebSocket(rag::ChatService& chat) : chat_(chat) {}

std::unique_ptr<WebSocketConversation> ChatWebSocket::Open(const Request& upgrade) const {
  (void)upgrade;
  return std::make_unique<ChatConversation>(chat_);
}

}  // namespace jrvs::api
