// A one-line progress display for long commands (ingest, scrape): files done, chunks/s, ETA.
// On a terminal it redraws one line on stderr; otherwise it prints a line at most every few
// seconds so logs stay readable. Not thread-safe: call from one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace jrvs::app {

class Progress {
 public:
  Progress(std::string label, size_t total);
  // Records progress (absolute counts) and redraws if due.
  void Update(size_t done, size_t chunks, std::string_view current = {});
  // Draws the final state and ends the line.
  void Finish();

 private:
  void Draw(bool final);

  std::string label_;
  size_t total_;
  size_t done_ = 0;
  size_t chunks_ = 0;
  std::string current_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace jrvs::app
