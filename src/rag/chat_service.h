// ChatService: one chat turn end to end (DESIGN.md §5, §6): retrieve context for the message,
// build the prompt (a static system prompt, the session's recent turns as real chat messages,
// the numbered context and the question) within a byte budget that trims history first and
// context next on chunk boundaries, ask the LLM (tokens streamed through a callback), drop
// citations that point at no given source, and store the turn with its sources and latency.
//
// Thread-safe: Chat() may run concurrently for different sessions (and the same one; turns are
// then stored in completion order). Blocking: run it off the I/O threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "llm/llm_client.h"
#include "rag/retriever.h"
#include "store/store.h"

namespace jrvs::rag {

struct ChatServiceOptions {
  // Kept identical across turns so a model can reuse its prompt cache.
  std::string system_prompt =
      "You are jrvs, a helpful assistant running locally. Answer using the numbered context "
      "when it is relevant and cite it as [n]. If the context does not contain the answer, say "
      "so briefly and answer from general knowledge only if you are sure.";
  size_t history_turns = 6;            // past turns of the session sent as messages
  size_t context_chunks = 5;           // chunks retrieved per message
  size_t context_budget_bytes = 4000;  // most context text
  size_t prompt_budget_bytes = 16000;  // system + history + context + question
  size_t max_message_bytes = 10000;    // longer messages are refused (InvalidArgument)
};

struct ChatTurnRequest {
  std::string message;
  std::string session_id;  // must already be valid (the API checks the rule)
  std::string model;       // empty: the current model
};

struct ChatTurnResult {
  std::string response;
  std::string session_id;
  std::string model_used;
  bool context_used = false;
  std::vector<Citation> sources;  // the sources given to the model, numbered as in the answer
  double retrieval_ms = 0;
  double generation_ms = 0;
  double total_ms = 0;
  double time_to_first_token_ms = 0;
  std::string warning;  // e.g. the LLM was down and the extractive fallback answered
  int64_t turn_id = 0;  // id of the stored conversation row
};

// Streams text through `sink`, dropping citations "[n]" whose n is not in `valid` (and holding
// back a partial "[12" until it is complete). Not thread-safe.
class CitationFilter {
 public:
  CitationFilter(std::vector<int> valid, std::function<bool(std::string_view)> sink);
  bool Feed(std::string_view text);  // false once the sink asked to stop
  bool Finish();                     // flushes whatever is held back
  const std::string& output() const { return output_; }

 private:
  bool Emit(std::string_view text);
  std::vector<int> valid_;
  std::function<bool(std::string_view)> sink_;
  std::string pending_;  // a "[" and digits not yet closed
  std::string output_;   // everything emitted
};

// Removes dangling citations from a complete text.
std::string StripDanglingCitations(std::string_view text, const std::vector<int>& valid);

class ChatService {
 public:
  ChatService(store::Store& store, const HybridRetriever& retriever, llm::LlmClient& llm,
              std::string default_model, ChatServiceOptions options,
              MetricsRegistry* metrics = nullptr);

  // One turn. `on_token` receives the (citation-checked) answer as it is generated; return
  // false from it to cancel. The turn is stored only when it completes.
  Result<ChatTurnResult> Chat(const ChatTurnRequest& request, const llm::TokenCallback& on_token,
                              const std::atomic<bool>* cancel);

  std::string current_model() const;
  void set_current_model(std::string model);
  llm::LlmClient& llm() { return llm_; }
  store::Store& store() { return store_; }

  // The messages sent to the model (exposed for tests): system, history, context + question.
  std::vector<llm::ChatMessage> BuildMessages(const std::vector<store::Conversation>& history,
                                              const BuiltContext& context,
                                              std::string_view message) const;

 private:
  store::Store& store_;
  const HybridRetriever& retriever_;
  llm::LlmClient& llm_;
  ChatServiceOptions options_;
  mutable std::mutex model_mu_;  // guards current_model_
  std::string current_model_;
  Histogram* turn_seconds_ = nullptr;
};

}  // namespace jrvs::rag
