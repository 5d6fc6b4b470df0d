// The JSON of a chat turn shared by POST /api/chat (JSON and SSE) and WS /ws/chat, so the two
// transports cannot drift: request validation and the answer's fields. Internal to api/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "api/json_body.h"
#include "core/status.h"
#include "rag/chat_service.h"

namespace jrvs::api {

inline constexpr size_t kMaxChatMessageChars = 10000;

// Reads `message` (1..10000 characters), `session_id` (^[A-Za-z0-9_-]{1,128}$; absent or empty
// means `default_session`, or a new random id when that is empty too) and `model`.
// InvalidArgument naming the bad field.
Result<rag::ChatTurnRequest> ParseChatTurn(const JsonBody& body,
                                           const std::string& default_session = {});

// [{n, document_id, title, url, score}]
boost::json::array SourcesJson(const std::vector<rag::Citation>& sources);

// {response, session_id, model_used, context_used, timings{...}, warning?} plus `sources` when
// `with_sources`.
boost::json::object TurnJson(const rag::ChatTurnResult& result, bool with_sources);

}  // namespace jrvs::api
