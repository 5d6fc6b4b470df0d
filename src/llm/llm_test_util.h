// Helpers shared by the LLM client tests (header-only, test binaries only): a request builder,
// a token recorder and options tuned for fast tests against the fake LLM server.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fakes/fake_llm_server.h"
#include "llm/llm_client.h"
#include "llm/remote_llm_client.h"

namespace jrvs::llm::testing {

inline constexpr const char* kFakeModel = "llama3.2:1b";

// A chat request with a system message and one user message.
inline ChatRequest SimpleRequest(std::string question = "hello there") {
  ChatRequest r;
  r.messages = {{"system", "You are terse."}, {"user", question}};
  r.query = std::move(question);
  return r;
}

// Collects tokens; thread-safe so a test thread may read while a call streams.
class TokenRecorder {
 public:
  // A callback that records and returns true, or false once `stop_after` tokens were seen
  // (0: never).
  TokenCallback Callback(size_t stop_after = 0) {
    return [this, stop_after](std::string_view token) {
      std::lock_guard lock(mu_);
      tokens_.emplace_back(token);
      return stop_after == 0 || tokens_.size() < stop_after;
    };
  }
  std::vector<std::string> tokens() const {
    std::lock_guard lock(mu_);
    return tokens_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return tokens_.size();
  }
  std::string Joined() const {
    std::lock_guard lock(mu_);
    std::string s;
    for (const auto& t : tokens_) s += t;
    return s;
  }

 private:
  mutable std::mutex mu_;  // guards tokens_
  std::vector<std::string> tokens_;
};

// Fast defaults for tests: short backoff, generous timeouts unless a test shortens them.
template <typename Options>
Options FastOptions(std::string base_url) {
  Options o;
  o.base_url = std::move(base_url);
  o.default_model = kFakeModel;
  o.timeouts.connect_ms = 1000;
  o.timeouts.first_token_ms = 5000;
  o.timeouts.token_gap_ms = 5000;
  o.timeouts.total_ms = 30000;
  o.retry.max_retries = 2;
  o.retry.initial_backoff_ms = 10;
  o.retry.max_backoff_ms = 40;
  return o;
}

// A running fake LLM server answering `reply` (2 io threads); fails the current test (and
// returns a server whose port() is 0) if it cannot start.
inline std::unique_ptr<jrvs::testing::FakeLlmServer> StartFakeServer(std::string reply) {
  jrvs::testing::FakeLlmOptions options;
  options.reply = std::move(reply);
  options.threads = 2;
  auto server = std::make_unique<jrvs::testing::FakeLlmServer>(options);
  EXPECT_TRUE(server->Start()) << server->error();
  return server;
}

// Client::Create(options), failing the current test (and returning null) on an error.
template <typename Client, typename Options>
std::unique_ptr<Client> MakeClient(const Options& options) {
  auto client = Client::Create(options);
  EXPECT_TRUE(client) << client.error().ToString();
  return client ? std::move(*client) : nullptr;
}

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace jrvs::llm::testing
