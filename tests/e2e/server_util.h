// Starting and stopping the real `jrvs serve` for end-to-end tests.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "support/http_client.h"
#include "support/subprocess.h"

namespace jrvs::testing {

// An HTTP client for one server that fails the current test on a transport error (the returned
// response then has status 0) instead of making every call site check.
class ApiClient {
 public:
  explicit ApiClient(uint16_t port) : client_("127.0.0.1", port, std::chrono::seconds(30)) {}
  HttpResponse Request(std::string_view method, std::string_view target, std::string_view body = {},
                       const HttpHeaders& headers = {});

 private:
  HttpClient client_;
};

// A running `jrvs serve` on 127.0.0.1 with an ephemeral port.
class ServerProcess {
 public:
  // Starts the server with `--data-dir data_dir --port 0` plus `args`; waits until it listens.
  // Returns nullptr (and fails the current test) if it does not start within 30 s.
  static std::unique_ptr<ServerProcess> Start(const std::string& data_dir,
                                              const std::vector<std::string>& args = {},
                                              const std::map<std::string, std::string>& env = {});
  ~ServerProcess();

  uint16_t port() const { return port_; }
  Subprocess& process() { return process_; }
  ApiClient Client() const { return ApiClient(port_); }

  // SIGTERM and wait; returns the exit status.
  int Stop();
  // SIGKILL and wait.
  void Kill();

 private:
  Subprocess process_;
  uint16_t port_ = 0;
};

// Runs `jrvs args...` to completion.
RunResult RunJrvs(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {});

// Parses a JSON body; fails the current test on invalid JSON (returns null then).
boost::json::value ParseJson(const std::string& body);

}  // namespace jrvs::testing
