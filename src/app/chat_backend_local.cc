// The local chat backend: the Runtime on the data directory, ChatService called directly for
// answers, and the same api/ handlers `jrvs serve` routes to for the slash commands (dispatched in
// process on the route pattern, so both modes read identical JSON).
#include <map>
#include <utility>

#include <fmt/format.h>

#include "api/chat_api.h"
#include "api/knowledge_api.h"
#include "api/system_api.h"
#include "app/chat_backend.h"
#include "app/runtime.h"

namespace jrvs::app {

namespace {

class LocalChatBackend : public ApiChatBackend {
 public:
  explicit LocalChatBackend(std::unique_ptr<Runtime> runtime) : rt_(std::move(runtime)) {
    Runtime& rt = *rt_;
    api::SystemApiDeps deps;
    deps.store = &rt.store();
    deps.metrics = &rt.metrics();
    deps.current_model = [&rt] { return rt.chat().current_model(); };
    deps.index_info = [&rt] { return rt.KnowledgeStats(); };
    api::SystemApiOptions sys_options;
    sys_options.history_default_limit = rt.config().history_default_limit;
    sys_options.history_max_limit = rt.config().history_max_limit;
    system_ = std::make_unique<api::SystemApi>(std::move(deps), sys_options);
    api::KnowledgeApiOptions kb_options;
    kb_options.context_budget_bytes = static_cast<size_t>(rt.config().retrieval_context_budget);
    knowledge_ =
        std::make_unique<api::KnowledgeApi>(rt.store(), rt.ingest(), rt.retriever(), kb_options);
    chat_api_ = std::make_unique<api::ChatApi>(rt.chat());

    // The routes the slash commands use, as `jrvs serve` registers them.
    auto* sys = system_.get();
    auto* kb = knowledge_.get();
    auto* chat = chat_api_.get();
    routes_[{"GET", "/api/models"}] = [chat](const api::Request& r) { return chat->ListModels(r); };
    routes_[{"POST", "/api/models/switch/{name}"}] = [chat](const api::Request& r) {
      return chat->SwitchModel(r);
    };
    routes_[{"GET", "/api/search"}] = [kb](const api::Request& r) { return kb->Search(r); };
    routes_[{"GET", "/api/stats"}] = [sys](const api::Request& r) { return sys->Stats(r); };
    routes_[{"GET", "/api/history/{session_id}"}] = [sys](const api::Request& r) {
      return sys->GetHistory(r);
    };
    routes_[{"DELETE", "/api/history/{session_id}"}] = [sys](const api::Request& r) {
      return sys->DeleteHistory(r);
    };
  }

  std::string description() const override {
    return fmt::format("local data in {}", rt_->config().data_dir);
  }

  Result<ChatReply> Chat(std::string_view message, std::string_view session_id,
                         const TokenSink& on_token, const std::atomic<bool>* cancel) override {
    rag::ChatTurnRequest request{std::string(message), std::string(session_id), ""};
    auto token = [&](std::string_view t) {
      if (cancel != nullptr && cancel->load()) return false;
      return on_token(t);
    };
    auto result = rt_->chat().Chat(request, token, cancel);
    if (!result) return Error(result.error());  // kCancelled when stopped mid-answer
    ChatReply reply;
    reply.response = std::move(result->response);
    reply.session_id = std::move(result->session_id);
    reply.model_used = std::move(result->model_used);
    reply.warning = std::move(result->warning);
    reply.total_ms = result->total_ms;
    for (const auto& c : result->sources) {
      reply.sources.push_back({c.n, c.title, c.url.value_or("")});
    }
    return reply;
  }

 protected:
  Result<ApiReply> Call(const ApiCall& call) override {
    auto it = routes_.find({call.method, call.route});
    if (it == routes_.end()) {
      return Error(StatusCode::kInternal,
                   fmt::format("no local route {} {}", call.method, call.route));
    }
    api::Request request;
    request.method = call.method;
    request.target = call.path;
    request.path = call.path;
    request.query = call.query;
    request.path_params = call.path_params;
    request.body = call.body;
    request.request_id = "chat";
    api::Response response = it->second(request);
    return ApiReply{response.status, std::move(response.body)};
  }

 private:
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<api::SystemApi> system_;
  std::unique_ptr<api::KnowledgeApi> knowledge_;
  std::unique_ptr<api::ChatApi> chat_api_;
  std::map<std::pair<std::string, std::string>, api::Handler> routes_;  // (method, route)
};

}  // namespace

Result<std::unique_ptr<ChatBackend>> MakeLocalChatBackend(const Config& config) {
  auto runtime = Runtime::Open(config);
  if (!runtime) return Error(runtime.error());
  if (Status s = (*runtime)->OpenKnowledge(/*background_save=*/false); !s.ok()) return Error(s);
  if (Status s = (*runtime)->EnableMemorySearch(); !s.ok()) return Error(s);
  if (Status s = (*runtime)->OpenChat(); !s.ok()) return Error(s);
  return std::unique_ptr<ChatBackend>(std::make_unique<LocalChatBackend>(std::move(*runtime)));
}

}  // namespace jrvs::app
