#include "api/chat_api.h"

#include <atomic>
#include <random>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api/chat_json.h"
#include "api/json_body.h"
#include "api/system_api.h"

namespace jrvs::api {

namespace json = boost::json;

namespace {

std::string SseEvent(std::string_view event, const json::value& data) {
  return fmt::format("event: {}\ndata: {}\n\n", event, json::serialize(data));
}

}  // namespace

std::string NewSessionId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

ChatApi::ChatApi(rag::ChatService& chat) : chat_(chat) {}

Response ChatApi::Chat(const Request& request) const {
  const std::string& rid = request.request_id;
  auto body = JsonBody::Parse(request.body);
  if (!body) return ErrorResponse(body.error(), rid);
  auto parsed = ParseChatTurn(*body);
  if (!parsed) return ErrorResponse(parsed.error(), rid);
  auto stream = body->Bool("stream");
  if (!stream) return ErrorResponse(stream.error(), rid);

  rag::ChatTurnRequest turn = std::move(*parsed);

  if (!stream->value_or(false)) {
    auto result = chat_.Chat(turn, nullptr, nullptr);
    if (!result) return ErrorResponse(result.error(), rid);
    return JsonResponse(json::serialize(TurnJson(*result, true)));
  }

  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  r.stream = [this, turn = std::move(turn), rid](StreamSink& sink) {
    std::atomic<bool> cancel{false};
    auto on_token = [&](std::string_view token) {
      if (!sink.Write(SseEvent("token", json::object{{"content", token}}))) {
        cancel = true;
        return false;
      }
      return true;
    };
    auto result = chat_.Chat(turn, on_token, &cancel);
    if (!result) {
      if (sink.ClientGone()) return;
      json::object error{{"code", StatusCodeName(result.error().code())},
                         {"message", result.error().message()},
                         {"request_id", rid}};
      sink.Write(SseEvent("error", json::object{{"error", std::move(error)}}));
      return;
    }
    if (!sink.Write(SseEvent("sources", json::object{{"sources", SourcesJson(result->sources)}}))) {
      return;
    }
    sink.Write(SseEvent("done", TurnJson(*result, true)));
  };
  return r;
}

Response ChatApi::ListModels(const Request& request) const {
  (void)request;
  std::string current = chat_.current_model();
  auto models = chat_.llm().ListModels();
  json::array list;
  json::object root;
  if (models) {
    for (const auto& m : *models) {
      boost::system::error_code ec;
      json::value details = json::parse(m.details_json.empty() ? "{}" : m.details_json, ec);
      if (ec) details = json::object();
      list.push_back(json::object{{"name", m.name},
                                  {"current", m.name == current},
                                  {"size", m.size},
                                  {"modified_at", m.modified_at},
                                  {"details", std::move(details)}});
    }
  } else {
    // The LLM is down: still answer (the extractive fallback works), and say why the list is empty.
    root["warning"] = "cannot list models: " + models.error().message();
  }
  root["models"] = std::move(list);
  root["current"] = current;
  // The models table: how often each model answered and how fast (JRVS keeps the same).
  if (auto usage = chat_.store().ListModelUsage()) {
    json::array rows;
    for (const auto& u : *usage) {
      rows.push_back(json::object{{"name", u.name},
                                  {"usage_count", u.usage_count},
                                  {"avg_response_ms", u.avg_response_ms},
                                  {"last_used_ms", u.last_used_ms}});
    }
    root["usage"] = std::move(rows);
  }
  root["provider"] = chat_.llm().provider();
  return JsonResponse(json::serialize(root));
}

Response ChatApi::SwitchModel(const Request& request) const {
  const std::string& rid = request.request_id;
  std::string name(request.PathParam("name"));
  if (name.empty()) return ErrorResponse(StatusCode::kInvalidArgument, "model name required", rid);
  auto models = chat_.llm().ListModels();
  if (!models) return ErrorResponse(models.error(), rid);
  std::string chosen;
  int prefix_matches = 0;
  for (const auto& m : *models) {
    if (m.name == name) {
      chosen = m.name;
      prefix_matches = 1;
      break;
    }
    if (m.name.rfind(name, 0) == 0) {
      chosen = m.name;
      ++prefix_matches;
    }
  }
  if (prefix_matches != 1) {
    return ErrorResponse(
        StatusCode::kInvalidArgument,
        prefix_matches == 0
            ? fmt::format("no model named '{}'", name)
            : fmt::format("'{}' matches {} models; be more specific", name, prefix_matches),
        rid);
  }
  std::string previous = chat_.current_model();
  chat_.set_current_model(chosen);
  json::object root{{"success", true}, {"previous", previous}, {"current", chosen}};
  return JsonResponse(json::serialize(root));
}

}  // namespace jrvs::api
