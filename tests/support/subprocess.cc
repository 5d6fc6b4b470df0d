#include "support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace jrvs::testing {

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  for (auto& t : readers_) {
    if (t.joinable()) t.join();
  }
}

bool Subprocess::Start(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& env, const std::string& cwd) {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    error_ = std::strerror(errno);
    return false;
  }
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    error_ = std::strerror(errno);
    return false;
  }
  // Build argv/envp before fork: only async-signal-safe calls in the child.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && env.count(entry.substr(0, eq)) > 0) continue;
    env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) {
    error_ = std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  readers_.emplace_back([this, fd = out_pipe[0]] { ReadLoop(fd); });
  readers_.emplace_back([this, fd = err_pipe[0]] { ReadLoop(fd); });
  return true;
}

void Subprocess::ReadLoop(int fd) {
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    output_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
}

std::optional<std::string> Subprocess::WaitForLine(const std::string& needle,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  while (true) {
    auto pos = output_.find(needle);
    if (pos != std::string::npos) {
      auto start = output_.rfind('\n', pos);
      start = start == std::string::npos ? 0 : start + 1;
      auto end = output_.find('\n', pos);
      if (end != std::string::npos) return output_.substr(start, end - start);
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

bool Subprocess::Signal(int signo) {
  if (pid_ <= 0 || exit_status_) return false;
  return ::kill(pid_, signo) == 0;
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::lock_guard lock(mu_);
      exit_status_ = code;
      return code;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Subprocess::DrainOutput() {
  for (auto& t : readers_) {
    if (t.joinable()) t.join();
  }
}

bool Subprocess::running() { return pid_ > 0 && !Wait(std::chrono::milliseconds(0)); }

std::string Subprocess::output() const {
  std::lock_guard lock(mu_);
  return output_;
}

RunResult RunCommand(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env,
                     std::chrono::milliseconds timeout) {
  RunResult result;
  Subprocess p;
  if (!p.Start(argv, env)) {
    result.output = p.error();
    return result;
  }
  auto status = p.Wait(timeout);
  if (!status) {
    p.Signal(SIGKILL);
    status = p.Wait(std::chrono::seconds(5));
  }
  p.DrainOutput();
  result.status = status.value_or(-1);
  result.output = p.output();
  return result;
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto candidate =
        base / ("jrvs-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path_ = candidate.string();
      return;
    }
  }
  std::abort();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace jrvs::testing
