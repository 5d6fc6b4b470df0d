// jrvs command-line entry point: parses the command line and hands over to app/commands.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/cli.h"
#include "app/commands.h"
#include "app/config.h"

namespace {

using jrvs::app::ConfigFlags;

int WithConfig(const ConfigFlags& flags, auto&& run) {
  auto config = flags.Load();
  if (!config) {
    std::cerr << "jrvs: configuration error: " << config.error().message() << "\n";
    return jrvs::app::kExitUsage;
  }
  return run(*config);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jrvs — a local-first AI assistant: your documents, your model, your machine.",
               "jrvs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("jrvs ") + JRVS_VERSION);

  auto* serve = app.add_subcommand("serve", "Serve the HTTP API (default 127.0.0.1:8000)");
  ConfigFlags serve_flags(*serve);

  auto* config_cmd = app.add_subcommand(
      "config", "Print the effective configuration and where each value came from");
  ConfigFlags config_flags(*config_cmd);

  auto* stats = app.add_subcommand("stats", "Show knowledge-base and conversation statistics");
  ConfigFlags stats_flags(*stats);

  auto* cleanup = app.add_subcommand("cleanup", "Delete conversations older than N days");
  ConfigFlags cleanup_flags(*cleanup);
  int days = 30;
  cleanup->add_option("--days", days, "Age in days of the oldest conversation kept")
      ->check(CLI::Range(0, 36500))
      ->capture_default_str();

  auto* ingest = app.add_subcommand("ingest", "Add files or directories to the knowledge base");
  ConfigFlags ingest_flags(*ingest);
  std::vector<std::string> ingest_paths;
  bool recursive = false;
  ingest->add_option("paths", ingest_paths, "Files or directories (.txt .md .html .pdf)")
      ->required();
  ingest->add_flag("-r,--recursive", recursive, "Descend into subdirectories");

  auto* search = app.add_subcommand("search", "Search the knowledge base");
  ConfigFlags search_flags(*search);
  std::string query;
  int search_limit = 5;
  std::string search_mode;
  search->add_option("query", query, "What to look for")->required();
  search->add_option("-n,--limit", search_limit, "Results")->check(CLI::Range(1, 50));
  search->add_option("--mode", search_mode, "hybrid, lexical or vector (default: retrieval.mode)");

  auto* reindex = app.add_subcommand("reindex", "Rebuild the vector index from the database");
  ConfigFlags reindex_flags(*reindex);

  auto* documents = app.add_subcommand("documents", "List, show or delete stored documents");
  ConfigFlags documents_flags(*documents);
  documents->require_subcommand(1);
  documents->fallthrough();
  int doc_limit = 20;
  int doc_offset = 0;
  int64_t doc_id = 0;
  auto* doc_list = documents->add_subcommand("list", "List documents, newest first");
  doc_list->add_option("-n,--limit", doc_limit, "Rows")->check(CLI::Range(1, 100000));
  doc_list->add_option("--offset", doc_offset, "Rows to skip")->check(CLI::Range(0, 1 << 30));
  auto* doc_show = documents->add_subcommand("show", "Print one document");
  doc_show->add_option("id", doc_id, "Document id")->required();
  auto* doc_delete = documents->add_subcommand("delete", "Delete one document");
  doc_delete->add_option("id", doc_id, "Document id")->required();

  auto* chat = app.add_subcommand("chat", "Chat in the terminal (local data, or --server URL)");
  ConfigFlags chat_flags(*chat);
  jrvs::app::ChatCommandOptions chat_options;
  std::string chat_history_file;
  chat->add_option("--server", chat_options.server_url,
                   "URL of a running `jrvs serve` (default: open data.dir directly)");
  chat->add_option("--session", chat_options.session_id, "Resume this session id");
  chat->add_option("--theme", chat_options.theme, "matrix, cyberpunk or minimal")
      ->check(CLI::IsMember({"matrix", "cyberpunk", "minimal"}));
  chat->add_flag("--no-color", chat_options.no_color, "No ANSI colours");
  auto* chat_history_opt =
      chat->add_option("--history-file", chat_history_file,
                       "Line history file (default ~/.jrvs_history; \"\" = none)");

  auto* scrape = app.add_subcommand("scrape", "Add a web page or a site to the knowledge base");
  ConfigFlags scrape_flags(*scrape);
  jrvs::app::ScrapeCommandOptions scrape_options;
  bool scrape_any_host = false;
  scrape->add_option("url", scrape_options.url, "http(s) URL to start from")->required();
  scrape->add_option("-d,--depth", scrape_options.depth, "Link hops to follow (0-5, default 0)")
      ->check(CLI::Range(0, 5));
  scrape->add_option("-n,--max-pages", scrape_options.max_pages, "Pages at most (1-1000)")
      ->check(CLI::Range(1, 1000));
  // add_flag(name) without a target: CLI11's (name, string) overload would bind the string.
  auto* same_host_flag = scrape->add_flag("--same-host");
  same_host_flag->description("Follow links on the start host only (default)");
  scrape->add_flag("--any-host", scrape_any_host, "Follow links to any host")
      ->excludes(same_host_flag);
  scrape->add_flag("--sitemap", scrape_options.sitemap, "Also start from /sitemap.xml");

  app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (app.got_subcommand("version")) {
    std::cout << "jrvs " << JRVS_VERSION << "\n";
    return jrvs::app::kExitOk;
  }
  if (app.got_subcommand(serve)) {
    return WithConfig(serve_flags, [](const auto& c) { return jrvs::app::RunServe(c); });
  }
  if (app.got_subcommand(config_cmd)) {
    jrvs::app::ConfigOrigin origin;
    auto config = config_flags.Load(&origin);
    if (!config) {
      std::cerr << "jrvs: configuration error: " << config.error().message() << "\n";
      return jrvs::app::kExitUsage;
    }
    std::cout << jrvs::app::FormatConfig(*config, origin);
    return jrvs::app::kExitOk;
  }
  if (app.got_subcommand(stats)) {
    return WithConfig(stats_flags, [](const auto& c) { return jrvs::app::RunStats(c); });
  }
  if (app.got_subcommand(cleanup)) {
    return WithConfig(cleanup_flags,
                      [days](const auto& c) { return jrvs::app::RunCleanup(c, days); });
  }
  if (app.got_subcommand(ingest)) {
    return WithConfig(ingest_flags, [&](const auto& c) {
      return jrvs::app::RunIngest(c, ingest_paths, recursive);
    });
  }
  if (app.got_subcommand(search)) {
    return WithConfig(search_flags, [&](const auto& c) {
      return jrvs::app::RunSearch(c, query, search_limit, search_mode);
    });
  }
  if (app.got_subcommand(reindex)) {
    return WithConfig(reindex_flags, [](const auto& c) { return jrvs::app::RunReindex(c); });
  }
  if (app.got_subcommand(scrape)) {
    scrape_options.same_host = !scrape_any_host;
    return WithConfig(scrape_flags,
                      [&](const auto& c) { return jrvs::app::RunScrape(c, scrape_options); });
  }
  if (app.got_subcommand(chat)) {
    if (chat_history_opt->count() > 0) chat_options.history_file = chat_history_file;
    return WithConfig(chat_flags,
                      [&](const auto& c) { return jrvs::app::RunChat(c, chat_options); });
  }
  if (app.got_subcommand(documents)) {
    std::string action = documents->got_subcommand(doc_list)   ? "list"
                         : documents->got_subcommand(doc_show) ? "show"
                                                               : "delete";
    return WithConfig(documents_flags, [&](const auto& c) {
      return jrvs::app::RunDocuments(c, action, doc_id, doc_limit, doc_offset);
    });
  }
  return jrvs::app::kExitUsage;
}
