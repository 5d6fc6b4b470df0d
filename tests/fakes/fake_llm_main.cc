// fake_llm: runs a FakeLlmServer as a process, for scripts, end-to-end tests and benchmarks.
//
//   fake_llm [--host 127.0.0.1] [--port 0] [--reply TEXT] [--ttft-ms N] [--token-delay-ms N]
//            [--mode normal|500|hang|truncate|malformed|slow-headers|drop-embedding]
//            [--models a,b,c] [--embed-dim N] [--threads N] [--disable-embed-api]
//
// Prints "listening on PORT" on stdout once it accepts connections, then runs until SIGTERM or
// SIGINT and exits 0.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fakes/fake_llm_server.h"

int main(int argc, char** argv) {
  jrvs::testing::FakeLlmOptions options;
  std::string mode_name = "normal";
  std::string models;
  CLI::App app{"Fake Ollama / OpenAI-compatible LLM server"};
  app.add_option("--host", options.host, "address to bind")->capture_default_str();
  app.add_option("--port", options.port, "port to bind; 0 picks a free one")->capture_default_str();
  app.add_option("--reply", options.reply, "reply text; {last_user} echoes the last user message")
      ->capture_default_str();
  app.add_option("--ttft-ms", options.ttft_ms, "time to first token, ms")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--token-delay-ms", options.token_delay_ms, "delay between tokens, ms")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--mode", mode_name,
                 "normal, 500, hang, truncate, malformed, slow-headers, drop-embedding")
      ->capture_default_str();
  app.add_option("--models", models, "comma-separated model names (default: built-in list)");
  app.add_option("--embed-dim", options.embed_dim, "embedding dimension")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", options.threads, "io threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--disable-embed-api", options.disable_embed_api,
               "answer 404 on /api/embed (old Ollama)");
  CLI11_PARSE(app, argc, argv);

  if (!jrvs::testing::ParseFakeMode(mode_name, &options.mode)) {
    std::cerr << "fake_llm: unknown --mode '" << mode_name << "'\n";
    return 2;
  }
  if (!models.empty()) {
    options.models.clear();
    std::stringstream ss(models);
    std::string name;
    while (std::getline(ss, name, ',')) {
      if (!name.empty()) options.models.push_back(name);
    }
  }

  // Block the stop signals in every thread; the main thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  jrvs::testing::FakeLlmServer server(options);
  if (!server.Start()) {
    std::cerr << "fake_llm: " << server.error() << "\n";
    return 1;
  }
  std::printf("listening on %u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  int signo = 0;
  sigwait(&signals, &signo);
  server.Stop();
  return 0;
}
