// Offline commands that open the data directory directly: `jrvs stats`, `jrvs cleanup`.
#include <iostream>

#include <fmt/format.h>

#include "app/commands.h"
#include "app/runtime.h"
#include "core/clock.h"

namespace jrvs::app {

namespace {

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace

int RunStats(const Config& config) {
  auto runtime = Runtime::Open(config);
  if (!runtime) {
    std::cerr << "jrvs: " << runtime.error().message() << "\n";
    return kExitFailure;
  }
  auto stats = (*runtime)->store().Stats();
  if (!stats) {
    std::cerr << "jrvs: " << stats.error().message() << "\n";
    return kExitFailure;
  }
  auto row = [](std::string_view name, const std::string& value) {
    std::cout << fmt::format("{:<22} {:>14}\n", name, value);
  };
  std::cout << fmt::format("jrvs {} — data in {}\n", JRVS_VERSION, config.data_dir);
  row("documents", std::to_string(stats->documents));
  row("chunks", std::to_string(stats->chunks));
  row("conversations", std::to_string(stats->conversations));
  row("sessions", std::to_string(stats->sessions));
  row("database size", HumanBytes(stats->database_bytes));
  return kExitOk;
}

int RunCleanup(const Config& config, int days) {
  auto runtime = Runtime::Open(config);
  if (!runtime) {
    std::cerr << "jrvs: " << runtime.error().message() << "\n";
    return kExitFailure;
  }
  int64_t cutoff = SystemClock::Instance().NowUnixMs() - static_cast<int64_t>(days) * 86'400'000;
  auto deleted = (*runtime)->store().DeleteConversationsBefore(cutoff);
  if (!deleted) {
    std::cerr << "jrvs: " << deleted.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << fmt::format("deleted {} conversation turns older than {} days\n", *deleted, days);
  return kExitOk;
}

}  // namespace jrvs::app
