#include "server_util.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace jrvs::testing {

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::string& data_dir,
                                                    const std::vector<std::string>& args,
                                                    const std::map<std::string, std::string>& env) {
  auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
  std::vector<std::string> argv = {JRVS_BINARY, "serve", "--data-dir",  data_dir,
                                   "--port",    "0",     "--log-level", "warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  // Never talk to a real Ollama from tests: point the LLM at a closed port unless told otherwise.
  std::map<std::string, std::string> full_env = {{"JRVS_LLM_OLLAMA_URL", "http://127.0.0.1:9"}};
  for (const auto& [k, v] : env) full_env[k] = v;
  if (!server->process_.Start(argv, full_env)) {
    ADD_FAILURE() << "cannot start jrvs: " << server->process_.error();
    return nullptr;
  }
  auto line = server->process_.WaitForLine("listening on http://", std::chrono::seconds(30));
  if (!line) {
    ADD_FAILURE() << "jrvs did not start; output:\n" << server->process_.output();
    return nullptr;
  }
  auto colon = line->rfind(':');
  server->port_ = static_cast<uint16_t>(std::stoi(line->substr(colon + 1)));
  return server;
}

ServerProcess::~ServerProcess() {
  if (process_.running()) Kill();
}

int ServerProcess::Stop() {
  process_.Signal(SIGTERM);
  auto status = process_.Wait(std::chrono::seconds(30));
  if (!status) {
    ADD_FAILURE() << "jrvs did not stop on SIGTERM";
    Kill();
    return -1;
  }
  return *status;
}

void ServerProcess::Kill() {
  process_.Signal(SIGKILL);
  process_.Wait(std::chrono::seconds(10));
}

HttpResponse ApiClient::Request(std::string_view method, std::string_view target,
                                std::string_view body, const HttpHeaders& headers) {
  auto r = client_.Request(method, target, body, headers);
  if (!r) {
    ADD_FAILURE() << method << " " << target << ": " << r.error().ToString();
    return HttpResponse{};
  }
  return std::move(*r);
}

RunResult RunJrvs(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {JRVS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, env);
}

boost::json::value ParseJson(const std::string& body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) {
    ADD_FAILURE() << "invalid JSON: " << body;
    return nullptr;
  }
  return v;
}

}  // namespace jrvs::testing
