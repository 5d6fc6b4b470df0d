#include "app/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace jrvs::app {

Progress::Progress(std::string label, size_t total, std::string items, std::string rate_unit)
    : label_(std::move(label)),
      total_(total),
      items_(std::move(items)),
      rate_unit_(std::move(rate_unit)),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::Update(size_t done, size_t rate_count, std::string_view current) {
  done_ = done;
  rate_count_ = rate_count;
  current_ = std::string(current);
  auto now = std::chrono::steady_clock::now();
  auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ >= interval) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() { Draw(true); }

void Progress::Draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(rate_count_) / secs : 0;
  double per_item = done_ > 0 ? secs / static_cast<double>(done_) : 0;
  double eta = total_ > done_ ? per_item * static_cast<double>(total_ - done_) : 0;
  int width = 24;
  int filled = total_ > 0 ? static_cast<int>(width * std::min(done_, total_) / total_) : width;
  std::string bar = std::string(filled, '#') + std::string(width - filled, '-');
  std::string current = current_;
  if (current.size() > 40) current = "..." + current.substr(current.size() - 37);
  std::string line =
      fmt::format("{} [{}] {}/{} {}  {:.0f} {}/s  ETA {:.0f}s  {}", label_, bar, done_, total_,
                  items_, rate, rate_unit_, eta, final ? "" : current);
  if (tty_) {
    std::fprintf(stderr, "\r\033[2K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace jrvs::app
