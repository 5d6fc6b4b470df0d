// The jrvs commands. Each returns a process exit code: 0 success, 1 runtime failure,
// 2 bad configuration or usage.
#pragma once

#include <cstdint>
#include <optional>
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

// `jrvs chat`: the terminal chat (app/chat_repl.h), on the data directory or on a server.
struct ChatCommandOptions {
  std::string server_url;  // "" = local mode on data.dir; else http(s)://host:port of `jrvs serve`
  std::string session_id;  // "" = a new random session; else resume this one
  std::string theme;       // "" = matrix; matrix | cyberpunk | minimal
  bool no_color = false;   // never emit ANSI colours (they are also off when piped or NO_COLOR)
  std::optional<std::string> history_file;  // unset = ~/.jrvs_history; "" = no history file
};
int RunChat(const Config& config, const ChatCommandOptions& options);

// `jrvs scrape URL [--depth N] [--max-pages N] [--any-host] [--sitemap]`: crawls into the
// knowledge base on data.dir; exit 1 when no page was stored or found unchanged.
struct ScrapeCommandOptions {
  std::string url;
  int depth = 0;          // 0..5 link hops
  int max_pages = 1;      // 1..1000 pages
  bool same_host = true;  // --any-host clears it
  bool sitemap = false;   // seed from /sitemap.xml
};
int RunScrape(const Config& config, const ScrapeCommandOptions& options);

}  // namespace jrvs::app
