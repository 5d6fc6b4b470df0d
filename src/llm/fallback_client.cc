#include "llm/fallback_client.h"

#include <chrono>
#include <mutex>
#include <string>
#include <utility>

namespace jrvs::llm {
namespace {

constexpr std::string_view kSeparator = "\n\n";

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

FallbackClient::FallbackClient(std::unique_ptr<LlmClient> primary,
                               std::unique_ptr<LlmClient> fallback, FallbackOptions options)
    : primary_(std::move(primary)),
      fallback_(std::move(fallback)),
      options_(options),
      metrics_(options_.metrics, "auto") {}

Result<std::vector<ModelInfo>> FallbackClient::ListModels() {
  auto fallback_models = fallback_->ListModels();
  auto models = primary_->ListModels();
  if (!models) return fallback_models;
  if (fallback_models) {
    for (auto& m : *fallback_models) models->push_back(std::move(m));
  }
  return models;
}

Result<ModelInfo> FallbackClient::DescribeModel(std::string_view name) {
  if (auto fallback_models = fallback_->ListModels()) {
    for (const ModelInfo& m : *fallback_models) {
      if (m.name == name) return fallback_->DescribeModel(name);
    }
  }
  return primary_->DescribeModel(name);
}

HealthReport FallbackClient::Health() {
  HealthReport report = primary_->Health();
  {
    std::lock_guard lock(health_mu_);
    primary_down_detail_ = report.ok ? std::string() : report.detail;
    if (!report.ok && primary_down_detail_.empty()) primary_down_detail_ = "down";
  }
  if (!report.ok) {
    report.detail += "; chat falls back to " + std::string(fallback_->provider()) + " answers";
  }
  return report;
}

Result<ChatResult> FallbackClient::Chat(const ChatRequest& request, const TokenCallback& on_token,
                                        const std::atomic<bool>* cancel) {
  const auto start = std::chrono::steady_clock::now();
  int64_t delivered = 0;
  std::string partial;
  double first_token_ms = 0;
  TokenCallback counting = [&](std::string_view token) {
    if (delivered == 0) first_token_ms = MsSince(start);
    ++delivered;
    partial += token;
    return !on_token || on_token(token);
  };
  if (options_.skip_unhealthy_primary) {
    std::string down;
    {
      std::lock_guard lock(health_mu_);
      down = primary_down_detail_;
    }
    if (!down.empty() && options_.fallback_on_error) {
      auto answer = fallback_->Chat(request, on_token, cancel);
      if (!answer) {
        metrics_.RecordOutcome(LlmMetrics::OutcomeFor(answer.error()));
        return answer;
      }
      answer->warning = "LLM unavailable (last health check: " + down +
                        "); answered from the knowledge base without a model";
      metrics_.RecordOutcome("fallback");
      return answer;
    }
  }
  auto primary = primary_->Chat(request, counting, cancel);
  if (primary) {
    metrics_.RecordOutcome("ok");
    return primary;
  }
  const Status& error = primary.error();
  const bool cancelled =
      error.code() == StatusCode::kCancelled || (cancel != nullptr && cancel->load());
  if (cancelled || !options_.fallback_on_error ||
      (delivered > 0 && !options_.append_after_partial)) {
    metrics_.RecordOutcome(LlmMetrics::OutcomeFor(error));
    return primary;
  }

  const double before_fallback_ms = MsSince(start);
  if (delivered > 0 && on_token && !on_token(kSeparator)) {
    metrics_.RecordOutcome("cancelled");
    return Error(StatusCode::kCancelled, "cancelled by the token callback");
  }
  auto answer = fallback_->Chat(request, on_token, cancel);
  if (!answer) {
    metrics_.RecordOutcome(LlmMetrics::OutcomeFor(answer.error()));
    return answer;
  }
  if (delivered == 0) {
    answer->warning = "LLM unavailable (" + error.message() +
                      "); answered from the knowledge base without a model";
    answer->time_to_first_token_ms += before_fallback_ms;
  } else {
    answer->warning = "LLM stopped after " + std::to_string(delivered) + " tokens (" +
                      error.message() +
                      "); the rest was answered from the knowledge base without a model";
    answer->text = partial + std::string(kSeparator) + answer->text;
    answer->completion_tokens += delivered;
    answer->time_to_first_token_ms = first_token_ms;  // the primary's first token
  }
  answer->total_ms = MsSince(start);
  metrics_.RecordOutcome("fallback");
  return answer;
}

}  // namespace jrvs::llm
