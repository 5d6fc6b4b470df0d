// OllamaClient: LlmClient over Ollama's native API (DESIGN.md §6).
//
//   Chat          POST /api/chat {"model","messages","stream":true,"keep_alive"?,
//                 "options":{"temperature"?,"num_ctx"?,"num_predict"?}}; the answer is NDJSON,
//                 one {"message":{"content"}} per token and a final {"done":true,"done_reason",
//                 "prompt_eval_count","eval_count"}. A line {"error":"..."} is a server error.
//                 ChatOptions::max_tokens is sent as num_predict; an empty ChatOptions::keep_alive
//                 means OllamaClientOptions::keep_alive.
//   ListModels    GET /api/tags (name, size, modified_at, details).
//   DescribeModel POST /api/show {"model"}: details, model_info, capabilities and parameters.
//   Health        GET /api/version.
// Timeouts, retries, the circuit breaker and metrics are RemoteLlmClient's (remote_llm_client.h).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/remote_llm_client.h"

namespace jrvs::llm {

struct OllamaClientOptions : RemoteLlmOptions {
  OllamaClientOptions() {
    base_url = "http://127.0.0.1:11434";
    default_model = "llama3.2";
  }
  // keep_alive sent with every chat that sets none: a duration ("5m", "1h"), seconds ("300",
  // "-1" = keep loaded, "0" = unload at once); empty: the server's default.
  std::string keep_alive;
};

class OllamaClient final : public RemoteLlmClient {
 public:
  // Validates `options` (kInvalidArgument naming the field).
  static Result<std::unique_ptr<OllamaClient>> Create(OllamaClientOptions options);

  Result<std::vector<ModelInfo>> ListModels() override;
  Result<ModelInfo> DescribeModel(std::string_view name) override;

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  // Only Create() can make the Key (a private type): use Create().
  OllamaClient(Key, OllamaClientOptions options);

 protected:
  std::string ChatUrl() const override;
  std::string ChatBody(const ChatRequest& request, const std::string& model) const override;
  std::unique_ptr<StreamParser> NewStreamParser() const override;
  Result<std::string> ProbeHealth() override;

 private:
  const std::string keep_alive_;
};

}  // namespace jrvs::llm
