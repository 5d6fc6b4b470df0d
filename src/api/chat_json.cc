#include "api/chat_json.h"

#include <utility>

#include "api/chat_api.h"
#include "api/system_api.h"

namespace jrvs::api {

namespace json = boost::json;

Result<rag::ChatTurnRequest> ParseChatTurn(const JsonBody& body,
                                           const std::string& default_session) {
  auto message = body.String("message");
  if (!message) return Error(message.error());
  if (!*message || (*message)->empty()) {
    return Error(StatusCode::kInvalidArgument, "'message' is required");
  }
  if ((*message)->size() > kMaxChatMessageChars) {
    return Error(StatusCode::kInvalidArgument, "'message' must be 1..10000 characters");
  }
  auto session = body.String("session_id");
  if (!session) return Error(session.error());
  std::string session_id = session->value_or("");
  if (session_id.empty()) {
    session_id = default_session.empty() ? NewSessionId() : default_session;
  } else if (!IsValidSessionId(session_id)) {
    return Error(StatusCode::kInvalidArgument, "session_id must match ^[A-Za-z0-9_-]{1,128}$");
  }
  auto model = body.String("model");
  if (!model) return Error(model.error());
  return rag::ChatTurnRequest{std::move(**message), std::move(session_id), model->value_or("")};
}

json::array SourcesJson(const std::vector<rag::Citation>& sources) {
  json::array out;
  for (const auto& c : sources) {
    out.push_back(json::object{{"n", c.n},
                               {"document_id", c.document_id},
                               {"title", c.title},
                               {"url", c.url ? json::value(*c.url) : json::value(nullptr)},
                               {"score", c.score}});
  }
  return out;
}

json::object TurnJson(const rag::ChatTurnResult& r, bool with_sources) {
  json::object root{{"response", r.response},
                    {"session_id", r.session_id},
                    {"model_used", r.model_used},
                    {"context_used", r.context_used},
                    {"timings", json::object{{"retrieval_ms", r.retrieval_ms},
                                             {"generation_ms", r.generation_ms},
                                             {"time_to_first_token_ms", r.time_to_first_token_ms},
                                             {"total_ms", r.total_ms}}}};
  if (with_sources) root["sources"] = SourcesJson(r.sources);
  if (!r.warning.empty()) root["warning"] = r.warning;
  return root;
}

}  // namespace jrvs::api
