// A one-line progress display for long commands (ingest, scrape): items done of a total, a rate
// (chunks/s for ingest, pages/s for scrape) and an ETA.
// On a terminal it redraws one line on stderr; otherwise it prints a line at most every few
// seconds so logs stay readable. Not thread-safe: call from one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace jrvs::app {

class Progress {
 public:
  // `items` names what is counted ("files"), `rate_unit` what the rate counts ("chunks").
  Progress(std::string label, size_t total, std::string items = "files",
           std::string rate_unit = "chunks");
  // The total may grow (a crawl discovers pages as it goes).
  void SetTotal(size_t total) { total_ = total; }
  // Records progress (absolute counts: items done, units for the rate) and redraws if due.
  void Update(size_t done, size_t rate_count, std::string_view current = {});
  // Draws the final state and ends the line.
  void Finish();

 private:
  void Draw(bool final);

  std::string label_;
  size_t total_;
  std::string items_;
  std::string rate_unit_;
  size_t done_ = 0;
  size_t rate_count_ = 0;
  std::string current_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace jrvs::app
