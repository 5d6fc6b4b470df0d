// ExtractiveClient (provider "extractive"): answers without any model, from the best-matching
// sentences of the retrieved passages (DESIGN.md §6). It is what a fresh machine with no LLM
// chats with, and what FallbackClient answers with when the LLM is unavailable.
//
// The answer to ChatRequest::query (or, when that is empty, the last user message):
//   1. Query terms: text::Tokenize, minus text::IsStopWord, text::PorterStem, deduplicated.
//   2. Every sentence of every passage (text::SplitSentences; Markdown headings, table rows and
//      fragments under three words skipped, list and quote markers stripped, whitespace
//      collapsed, duplicates from overlapping chunks dropped) scores the sum of the weights of
//      the distinct query terms it contains, a term's weight being ln(1 + S / df) over the S
//      candidate sentences (rarer terms count more), times a small bonus for earlier passages
//      (1 + 0.15 / (1 + rank)).
//   3. The best sentences are taken greedily, best first, while they score at least
//      min_relative_score of the best one, up to max_sentences and max_answer_bytes in all
//      (a best sentence longer than the budget alone is cut at a word and ends with "…").
//   4. They are put back in passage order, each run from one passage followed by its citation
//      "[n]" (Passage::n).
// With no passages, no query terms or no sentence sharing a term, the answer is `no_answer`.
// The answer is streamed word by word (each word with its leading space) through on_token;
// ChatResult::model is "extractive" (which is how a reply says no LLM wrote it), attempts 0.
// Deterministic: the same request gives the same answer.
//
// Thread safety: all methods may be called concurrently (the object is immutable).
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "llm/llm_client.h"
#include "llm/llm_metrics.h"

namespace jrvs::llm {

struct ExtractiveOptions {
  size_t max_answer_bytes = 600;    // budget for the chosen sentences, bytes, 64..65536
  int max_sentences = 3;            // sentences in an answer, 1..20
  double min_relative_score = 0.5;  // a further sentence must score >= this * the best, 0..1
  // The whole answer when the knowledge base has nothing matching.
  std::string no_answer = "The knowledge base has nothing on this question.";
  MetricsRegistry* metrics = nullptr;  // optional; not owned, must outlive the client

  // kInvalidArgument naming the field when a value is out of range.
  Status Validate() const;
};

class ExtractiveClient final : public LlmClient {
 public:
  static constexpr std::string_view kModelName = "extractive";

  // `options` must be valid (Validate()).
  explicit ExtractiveClient(ExtractiveOptions options = {});

  std::string_view provider() const override { return "extractive"; }
  // One entry, "extractive".
  Result<std::vector<ModelInfo>> ListModels() override;
  Result<ChatResult> Chat(const ChatRequest& request, const TokenCallback& on_token,
                          const std::atomic<bool>* cancel) override;
  // Always ok.
  HealthReport Health() override;

  // The answer text for `query` (see the file comment), without streaming.
  std::string Answer(std::string_view query, const std::vector<Passage>& passages) const;

 private:
  const ExtractiveOptions options_;
  LlmMetrics metrics_;
};

}  // namespace jrvs::llm
