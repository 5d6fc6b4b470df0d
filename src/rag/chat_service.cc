#include "rag/chat_service.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/text.h"

namespace jrvs::rag {

namespace {

using SteadyClock = std::chrono::steady_clock;

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

bool IsValid(const std::vector<int>& valid, int n) {
  return std::find(valid.begin(), valid.end(), n) != valid.end();
}

// Bytes of prompt a message costs beyond its content (role, separators).
constexpr size_t kMessageOverhead = 16;
constexpr std::string_view kContextHeader = "Context:\n";
constexpr std::string_view kQuestionHeader = "\n\nQuestion: ";

std::string SourcesJson(const std::vector<Citation>& sources) {
  boost::json::array out;
  for (const auto& c : sources) {
    out.push_back(boost::json::object{
        {"n", c.n},
        {"document_id", c.document_id},
        {"title", c.title},
        {"url", c.url ? boost::json::value(*c.url) : boost::json::value(nullptr)},
        {"score", c.score}});
  }
  return boost::json::serialize(out);
}

}  // namespace

CitationFilter::CitationFilter(std::vector<int> valid, std::function<bool(std::string_view)> sink)
    : valid_(std::move(valid)), sink_(std::move(sink)) {}

bool CitationFilter::Emit(std::string_view text) {
  if (text.empty()) return true;
  output_.append(text);
  return sink_ ? sink_(text) : true;
}

bool CitationFilter::Feed(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (pending_.empty()) {
      if (c == '[') {
        pending_.assign(1, '[');
      } else {
        out += c;
      }
      continue;
    }
    if (c >= '0' && c <= '9' && pending_.size() < 6) {
      pending_ += c;
    } else if (c == ']' && pending_.size() > 1) {
      int n = std::stoi(pending_.substr(1));
      if (IsValid(valid_, n)) out += pending_ + "]";
      pending_.clear();
    } else {
      // Not a citation after all: release what was held back.
      out += pending_;
      pending_.clear();
      if (c == '[') {
        pending_.assign(1, '[');
      } else {
        out += c;
      }
    }
  }
  return Emit(out);
}

bool CitationFilter::Finish() {
  std::string rest = std::move(pending_);
  pending_.clear();
  return Emit(rest);
}

std::string StripDanglingCitations(std::string_view text, const std::vector<int>& valid) {
  CitationFilter filter(valid, nullptr);
  filter.Feed(text);
  filter.Finish();
  return filter.output();
}

ChatService::ChatService(store::Store& store, const HybridRetriever& retriever, llm::LlmClient& llm,
                         std::string default_model, ChatServiceOptions options,
                         MetricsRegistry* metrics)
    : store_(store),
      retriever_(retriever),
      llm_(llm),
      options_(std::move(options)),
      current_model_(std::move(default_model)) {
  if (metrics != nullptr) {
    turn_seconds_ =
        &metrics->AddHistogram("chat_turn_duration_seconds", "One chat turn end to end.").Get();
  }
}

std::string ChatService::current_model() const {
  std::lock_guard lock(model_mu_);
  return current_model_;
}

void ChatService::set_current_model(std::string model) {
  std::lock_guard lock(model_mu_);
  current_model_ = std::move(model);
}

std::vector<llm::ChatMessage> ChatService::BuildMessages(
    const std::vector<store::Conversation>& history, const BuiltContext& context,
    std::string_view message) const {
  std::string question;
  if (!context.text.empty()) {
    question.reserve(kContextHeader.size() + context.text.size() + kQuestionHeader.size() +
                     message.size());
    question.append(kContextHeader).append(context.text).append(kQuestionHeader).append(message);
  } else {
    question = std::string(message);
  }
  size_t used = options_.system_prompt.size() + question.size() + 2 * kMessageOverhead;
  // Newest turns first until the budget is spent; then restore chronological order.
  std::vector<const store::Conversation*> kept;
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    size_t cost = it->user_message.size() + it->ai_response.size() + 2 * kMessageOverhead;
    if (used + cost > options_.prompt_budget_bytes) break;
    used += cost;
    kept.push_back(&*it);
  }
  std::vector<llm::ChatMessage> messages;
  messages.push_back({"system", options_.system_prompt});
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    messages.push_back({"user", (*it)->user_message});
    messages.push_back({"assistant", (*it)->ai_response});
  }
  messages.push_back({"user", std::move(question)});
  return messages;
}

Result<ChatTurnResult> ChatService::Chat(const ChatTurnRequest& request,
                                         const llm::TokenCallback& on_token,
                                         const std::atomic<bool>* cancel) {
  auto t0 = SteadyClock::now();
  std::string_view message = text::TrimSpace(request.message);
  if (message.empty()) return Error(StatusCode::kInvalidArgument, "'message' must not be empty");
  if (request.message.size() > options_.max_message_bytes) {
    return Error(StatusCode::kInvalidArgument,
                 fmt::format("'message' is longer than {} bytes", options_.max_message_bytes));
  }
  if (!text::IsValidUtf8(request.message)) {
    return Error(StatusCode::kInvalidArgument, "'message' must be valid UTF-8");
  }

  auto chunks = retriever_.Retrieve(message, options_.context_chunks);
  if (!chunks) return Error(chunks.error());
  double retrieval_ms = MsSince(t0);

  // The context gets what the budget leaves after the system prompt and the question.
  size_t fixed = options_.system_prompt.size() + message.size() + kContextHeader.size() +
                 kQuestionHeader.size() + 2 * kMessageOverhead;
  size_t context_budget =
      fixed >= options_.prompt_budget_bytes
          ? 0
          : std::min(options_.context_budget_bytes, options_.prompt_budget_bytes - fixed);
  BuiltContext context = BuildContext(*chunks, context_budget);

  auto history =
      store_.ListConversations(request.session_id, static_cast<int>(options_.history_turns));
  if (!history) return Error(history.error());

  llm::ChatRequest llm_request;
  llm_request.messages = BuildMessages(*history, context, message);
  llm_request.options.model = request.model.empty() ? current_model() : request.model;
  llm_request.query = std::string(message);
  std::vector<int> valid;
  {
    // Passages for the extractive provider: the chunks that made it into the context, numbered
    // like the citations (chunks of one document share a number).
    std::map<int64_t, int> number_of_doc;
    for (const auto& c : context.citations) {
      number_of_doc[c.document_id] = c.n;
      valid.push_back(c.n);
    }
    for (size_t i = 0; i < context.chunks_used && i < chunks->size(); ++i) {
      const auto& c = (*chunks)[i];
      llm_request.passages.push_back({number_of_doc[c.document_id], c.title, c.url, c.text});
    }
  }

  CitationFilter filter(valid, on_token);
  auto g0 = SteadyClock::now();
  auto answer = llm_.Chat(
      llm_request, [&filter](std::string_view token) { return filter.Feed(token); }, cancel);
  if (!answer) return Error(answer.error());
  filter.Finish();
  double generation_ms = MsSince(g0);

  ChatTurnResult result;
  result.response = filter.output();
  result.session_id = request.session_id;
  result.model_used = answer->model.empty() ? llm_request.options.model : answer->model;
  result.context_used = !context.text.empty();
  result.sources = std::move(context.citations);
  result.retrieval_ms = retrieval_ms;
  result.generation_ms = generation_ms;
  result.time_to_first_token_ms = answer->time_to_first_token_ms;
  result.warning = answer->warning;

  store::NewConversation turn;
  turn.session_id = request.session_id;
  turn.user_message = request.message;
  turn.ai_response = result.response;
  turn.model_used = result.model_used;
  turn.context_used = context.text;
  turn.sources_json = SourcesJson(result.sources);
  result.total_ms = MsSince(t0);
  turn.latency_ms = result.total_ms;
  auto id = store_.AppendConversation(turn);
  if (!id) return Error(id.error());
  if (Status s = store_.RecordModelUsage(result.model_used, generation_ms); !s.ok()) {
    return Error(s);
  }
  result.turn_id = *id;
  if (turn_seconds_ != nullptr) turn_seconds_->Observe(result.total_ms / 1000);
  return result;
}

}  // namespace jrvs::rag
