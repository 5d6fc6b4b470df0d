// LlmMetrics: the Prometheus series every LLM client records, for one provider label.
//
//   llm_requests_total{provider,outcome}          counter; outcome is ok, cancelled, timeout,
//                                                  circuit_open, unavailable, error or fallback
//   llm_time_to_first_token_seconds{provider}      histogram, from the call to the first token
//   llm_tokens_per_second{provider}                histogram, generation speed after the first
//                                                  token (answers of two tokens or more)
//
// Without a registry every method is a no-op. Thread safety: safe to use concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "core/status.h"

namespace jrvs::llm {

class LlmMetrics {
 public:
  // `registry` may be null; it must outlive this object.
  LlmMetrics(MetricsRegistry* registry, std::string provider);

  void RecordOutcome(std::string_view outcome);
  // A successful answer: `completion_tokens` produced, the first after `ttft_ms`, the whole
  // call in `total_ms`.
  void RecordAnswer(double ttft_ms, double total_ms, int64_t completion_tokens);

  // "ok" for OK, else "cancelled", "timeout" (kDeadlineExceeded), "unavailable" or "error".
  static std::string_view OutcomeFor(const Status& status);

 private:
  const std::string provider_;
  MetricFamily<Counter>* requests_ = nullptr;
  Histogram* ttft_ = nullptr;
  Histogram* tokens_per_second_ = nullptr;
};

}  // namespace jrvs::llm
