#include "llm/llm_metrics.h"

#include <utility>
#include <vector>

namespace jrvs::llm {

LlmMetrics::LlmMetrics(MetricsRegistry* registry, std::string provider)
    : provider_(std::move(provider)) {
  if (registry == nullptr) return;
  requests_ = &registry->AddCounter("llm_requests_total", "LLM chat calls by outcome",
                                    {"provider", "outcome"});
  ttft_ = &registry
               ->AddHistogram("llm_time_to_first_token_seconds",
                              "Time from an LLM chat call to its first token", {"provider"},
                              {0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120})
               .WithLabels({provider_});
  tokens_per_second_ =
      &registry
           ->AddHistogram("llm_tokens_per_second", "LLM generation speed after the first token",
                          {"provider"},
                          {1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 5000})
           .WithLabels({provider_});
}

void LlmMetrics::RecordOutcome(std::string_view outcome) {
  if (requests_ != nullptr) requests_->WithLabels({provider_, outcome}).Inc();
}

void LlmMetrics::RecordAnswer(double ttft_ms, double total_ms, int64_t completion_tokens) {
  if (ttft_ == nullptr) return;
  if (completion_tokens > 0) ttft_->Observe(ttft_ms / 1000.0);
  double generation_s = (total_ms - ttft_ms) / 1000.0;
  if (completion_tokens >= 2 && generation_s > 0) {
    tokens_per_second_->Observe(static_cast<double>(completion_tokens - 1) / generation_s);
  }
}

std::string_view LlmMetrics::OutcomeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kDeadlineExceeded:
      return "timeout";
    case StatusCode::kUnavailable:
      return "unavailable";
    default:
      return "error";
  }
}

}  // namespace jrvs::llm
