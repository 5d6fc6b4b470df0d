// The jrvs commands. Each returns a process exit code: 0 success, 1 runtime failure,
// 2 bad configuration or usage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/config.h"

namespace jrvs::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `jrvs serve`: the HTTP API until SIGINT/SIGTERM.
int RunServe(const Config& config);
// `jrvs stats`: the figures of GET /api/stats as a table.
int RunStats(const Config& config);
// `jrvs cleanup --days N`: deletes conversations older than N days.
int RunCleanup(const Config& config, int days);
// `jrvs ingest PATH... [--recursive]`: loads, chunks, embeds and stores files, with progress.
int RunIngest(const Config& config, const std::vector<std::string>& paths, bool recursive);
// `jrvs search QUERY [--limit N] [--mode M]`.
int RunSearch(const Config& config, const std::string& query, int limit, const std::string& mode);
// `jrvs reindex`: rebuilds the vector index from the database.
int RunReindex(const Config& config);
// `jrvs documents list|show|delete`.
int RunDocuments(const Config& config, const std::string& action, int64_t id, int limit,
                 int offset);

}  // namespace jrvs::app
