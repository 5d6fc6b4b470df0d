// FallbackClient (provider "auto"): a primary LLM client (Ollama or OpenAI-compatible) with a
// fallback behind it, normally the ExtractiveClient, so chat keeps working with the LLM down.
//
// Chat:
// - The primary answers: its result is returned as it is.
// - The primary fails before streaming any token (server down, circuit open, HTTP 5xx, a
//   timeout before the first token, a 404 model, ...): with fallback_on_error the fallback
//   answers instead, streamed through the same on_token, with ChatResult::warning
//   "LLM unavailable (<reason>); answered from the knowledge base without a model". Its
//   timings count from the start of the call (the failed attempt included).
// - The primary fails after tokens were streamed: the error is returned (the caller has the
//   tokens and decides), unless append_after_partial: then "\n\n" and the fallback's answer are
//   streamed after the partial text, and the result (text = partial + "\n\n" + fallback answer)
//   carries the warning "LLM stopped after <n> tokens (<reason>); the rest was answered from the
//   knowledge base without a model".
// - A cancelled call (flag or on_token returning false) is never answered by the fallback.
// - With skip_unhealthy_primary, a Health() call that finds the primary down marks it down, and
//   until a later Health() finds it up again, Chat goes straight to the fallback (warning
//   "LLM unavailable (last health check: <detail>); ..."). `jrvs serve` probes Health every 5 s in
//   the background, so with no model server running "auto" answers at once instead of paying a
//   refused connection and a retry per chat. Before the first Health() the primary is tried.
// ListModels: the primary's models followed by the fallback's (only the fallback's when the
// primary cannot be reached). Health is the primary's; when it is down the detail says chat
// falls back. With a MetricsRegistry: llm_requests_total{provider="auto",outcome} where outcome
// is "ok", "fallback" or how the call failed.
//
// Thread safety: all methods may be called concurrently if the wrapped clients allow it (all
// jrvs clients do).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.h"
#include "llm/llm_client.h"
#include "llm/llm_metrics.h"

namespace jrvs::llm {

struct FallbackOptions {
  bool fallback_on_error = true;       // answer with the fallback when the primary fails first
  bool append_after_partial = false;   // after a mid-stream failure, append the fallback answer
  bool skip_unhealthy_primary = true;  // skip the primary while the last Health() found it down
  MetricsRegistry* metrics = nullptr;  // optional; not owned, must outlive the client
};

class FallbackClient final : public LlmClient {
 public:
  // Both clients are required (not null).
  FallbackClient(std::unique_ptr<LlmClient> primary, std::unique_ptr<LlmClient> fallback,
                 FallbackOptions options = {});

  std::string_view provider() const override { return "auto"; }
  Result<std::vector<ModelInfo>> ListModels() override;
  Result<ModelInfo> DescribeModel(std::string_view name) override;
  Result<ChatResult> Chat(const ChatRequest& request, const TokenCallback& on_token,
                          const std::atomic<bool>* cancel) override;
  HealthReport Health() override;

  LlmClient& primary() { return *primary_; }
  LlmClient& fallback() { return *fallback_; }

 private:
  const std::unique_ptr<LlmClient> primary_;
  const std::unique_ptr<LlmClient> fallback_;
  const FallbackOptions options_;
  LlmMetrics metrics_;
  std::mutex health_mu_;  // guards primary_down_detail_
  // The detail of the last failed Health() of the primary; empty while it is up or unprobed.
  std::string primary_down_detail_;
};

}  // namespace jrvs::llm
