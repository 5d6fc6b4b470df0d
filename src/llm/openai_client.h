// OpenAiClient: LlmClient over the OpenAI-compatible API served by LM Studio, llama.cpp's
// server, vLLM and others (DESIGN.md §6).
//
//   Chat        POST /v1/chat/completions {"model","messages","stream":true,
//               "stream_options":{"include_usage":true}?,"temperature"?,"max_tokens"?}; the
//               answer is Server-Sent Events: "data: {chunk}" with choices[0].delta.content per
//               token, a chunk with finish_reason, optionally a usage chunk, then "data: [DONE]".
//               Either [DONE] or a finish_reason completes the stream; an event carrying
//               {"error":...} is a server error. ChatOptions::num_ctx and keep_alive do not
//               exist in this API and are ignored.
//   ListModels  GET /v1/models (id; "created" becomes modified_at; the entry is details_json).
//   Health      GET /v1/models.
// With an api_key every request carries "Authorization: Bearer <key>"; the key is never logged
// nor put in messages. base_url may end in "/v1" or not.
// Timeouts, retries, the circuit breaker and metrics are RemoteLlmClient's (remote_llm_client.h).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llm/remote_llm_client.h"

namespace jrvs::llm {

struct OpenAiClientOptions : RemoteLlmOptions {
  OpenAiClientOptions() {
    base_url = "http://127.0.0.1:1234";
    default_model = "local-model";
  }
  std::string api_key;        // sent as a bearer token when not empty
  bool include_usage = true;  // ask for token counts in the stream (stream_options); turn off
                              // for a server that rejects the field
};

class OpenAiClient final : public RemoteLlmClient {
 public:
  // Validates `options` (kInvalidArgument naming the field).
  static Result<std::unique_ptr<OpenAiClient>> Create(OpenAiClientOptions options);

  Result<std::vector<ModelInfo>> ListModels() override;

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  // Only Create() can make the Key (a private type): use Create().
  OpenAiClient(Key, OpenAiClientOptions options);

 protected:
  std::string ChatUrl() const override;
  std::string ChatBody(const ChatRequest& request, const std::string& model) const override;
  std::unique_ptr<StreamParser> NewStreamParser() const override;
  HttpHeaders RequestHeaders() const override;
  Result<std::string> ProbeHealth() override;

 private:
  const std::string api_key_;
  const bool include_usage_;
};

}  // namespace jrvs::llm
