// Runs a child process for end-to-end tests: arguments, extra environment, captured stdout and
// stderr (read by background threads), waiting for a line, signals, exit status. The destructor
// kills (SIGKILL) and reaps a child that is still running, so a failed test never leaks servers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace jrvs::testing {

class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Starts `argv[0]` with `argv`, the current environment plus `env`, in `cwd` if not empty.
  // Returns false (with errno-based text in error()) if the process cannot be started.
  bool Start(const std::vector<std::string>& argv,
             const std::map<std::string, std::string>& env = {}, const std::string& cwd = "");

  // Waits until a line of stdout or stderr contains `needle`; returns that line.
  std::optional<std::string> WaitForLine(const std::string& needle,
                                         std::chrono::milliseconds timeout);

  // Sends a signal; returns false if the process is not running.
  bool Signal(int signo);
  // Waits for exit; returns the exit status (128 + signal if killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

  // After exit: waits until both pipes reach end of file, so output() is complete.
  void DrainOutput();

  bool running();
  pid_t pid() const { return pid_; }
  std::string output() const;  // everything captured so far, stdout and stderr interleaved
  const std::string& error() const { return error_; }

 private:
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string error_;
  std::vector<std::thread> readers_;
  mutable std::mutex mu_;  // guards output_ and exit_status_
  std::condition_variable cv_;
  std::string output_;
};

// Runs a command to completion and returns {exit status, combined output}.
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult RunCommand(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A fresh temporary directory removed (recursively) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace jrvs::testing
