#include "app/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <variant>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace jrvs::app {

namespace {

using Member =
    std::variant<std::string Config::*, int64_t Config::*, bool Config::*, double Config::*>;

struct KeySpec {
  const char* key;
  Member member;
  const char* help;
  double min = 0;  // numbers: inclusive range
  double max = 0;
  std::vector<std::string> choices = {};  // strings: allowed values (empty = any)
  const char* short_flag = "";
};

constexpr int64_t kMaxMs = 24LL * 3600 * 1000;

const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec> specs = {
      {"server.host", &Config::server_host, "bind address", 0, 0, {}, "--host"},
      {"server.port", &Config::server_port, "TCP port (0 = any free port)", 0, 65535, {}, "--port"},
      {"server.threads",
       &Config::server_threads,
       "I/O threads (0 = cores)",
       0,
       256,
       {},
       "--threads"},
      {"server.workers", &Config::server_workers, "handler worker threads (0 = cores)", 0, 1024},
      {"server.max_queued", &Config::server_max_queued, "queued requests before 503", 1, 1'000'000},
      {"server.slow_workers", &Config::server_slow_workers,
       "threads for slow routes (LLM, scraping) and streamed responses", 1, 1024},
      {"server.max_queued_slow", &Config::server_max_queued_slow, "queued slow requests before 503",
       1, 1'000'000},
      {"server.ws_max_sessions", &Config::server_ws_max_sessions,
       "WebSocket sessions open at once (more: 503)", 1, 1'000'000},
      {"server.ws_max_message_bytes", &Config::server_ws_max_message_bytes,
       "largest WebSocket message from a client (larger: close 1009)", 1, 16 << 20},
      {"server.ws_idle_timeout_ms", &Config::server_ws_idle_timeout_ms,
       "WebSocket idle time while nothing is being answered", 10, kMaxMs},
      {"server.max_header_bytes", &Config::server_max_header_bytes,
       "request line and header bytes before 431", 1024, 1 << 20},
      {"server.body_limit", &Config::server_body_limit, "request body bytes before 413", 1024,
       1LL << 30},
      {"server.header_timeout_ms", &Config::server_header_timeout_ms,
       "time to receive request headers", 10, kMaxMs},
      {"server.body_timeout_ms", &Config::server_body_timeout_ms, "time to receive a body", 10,
       kMaxMs},
      {"server.idle_timeout_ms", &Config::server_idle_timeout_ms, "keep-alive idle time", 10,
       kMaxMs},
      {"server.write_timeout_ms", &Config::server_write_timeout_ms, "time to send a response", 10,
       kMaxMs},
      {"server.shutdown_grace_ms", &Config::server_shutdown_grace_ms,
       "time in-flight requests get on SIGTERM", 0, kMaxMs},
      {"server.cors_origins", &Config::server_cors_origins,
       "comma-separated allowed origins (empty = CORS off, * = any)"},
      {"server.access_log", &Config::server_access_log, "log every request"},
      {"data.dir", &Config::data_dir, "data directory (database, index)"},
      {"log.level",
       &Config::log_level,
       "log level",
       0,
       0,
       {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {"store.backend", &Config::store_backend, "database backend", 0, 0, {"sqlite"}},
      {"store.busy_timeout_ms", &Config::store_busy_timeout_ms, "SQLite busy timeout", 0, kMaxMs},
      {"store.batch_max", &Config::store_batch_max, "writes per group commit", 1, 100'000},
      {"store.cache_kib", &Config::store_cache_kib, "SQLite page cache per connection (KiB)", 0,
       1 << 22},
      {"store.memory_fts", &Config::store_memory_fts,
       "serve and chat search in-memory copies of the full-text indexes (built at start)"},
      {"store.mmap_bytes", &Config::store_mmap_bytes,
       "SQLite memory-mapped I/O per connection (bytes, 0 = off)", 0, 1LL << 40},
      {"store.queue_capacity", &Config::store_queue_capacity, "pending writes before 503", 1,
       10'000'000},
      {"history.default_limit", &Config::history_default_limit,
       "turns returned by GET /api/history without ?limit=", 1, 100'000},
      {"history.max_limit", &Config::history_max_limit, "largest accepted ?limit=", 1, 1'000'000},
      {"chunk.size", &Config::chunk_size, "bytes per chunk", 32, 1 << 20},
      {"chunk.overlap", &Config::chunk_overlap, "bytes of overlap between chunks", 0, 1 << 19},
      {"embed.provider", &Config::embed_provider, "embedder", 0, 0, {"hash", "ollama", "openai"}},
      {"embed.model", &Config::embed_model, "embedding model for ollama/openai"},
      {"embed.url", &Config::embed_url, "embedding server URL (empty: the LLM URL)"},
      {"embed.dimension", &Config::embed_dimension, "hash embedder dimension", 16, 8192},
      {"embed.batch", &Config::embed_batch, "texts per embedder call", 1, 4096},
      {"embed.cache_size", &Config::embed_cache_size, "cached embeddings (0 = off)", 0, 10'000'000},
      {"index.ann_threshold", &Config::index_ann_threshold,
       "vectors at which exact search switches to HNSW", 0, 1e12},
      {"index.hnsw_m", &Config::index_hnsw_m, "HNSW links per node", 4, 256},
      {"index.ef_construction", &Config::index_ef_construction, "HNSW build beam width", 8, 4096},
      {"index.ef_search", &Config::index_ef_search,
       "HNSW search beam width (0 = grows with the index: 128 up to 32k vectors, 448 at 131k, "
       "1168 at 1M)",
       0, 4096},
      {"index.quantized_walk", &Config::index_quantized_walk,
       "walk the HNSW graph on an int8 copy of the vectors (results rescored exactly)"},
      {"index.float16", &Config::index_float16,
       "store vectors in half precision (half the memory; scores within ~1e-5)"},
      {"index.defer_max", &Config::index_defer_max,
       "graph work waits while vectors arrive fast, until this many would be scanned exactly "
       "(0 = never wait)",
       0, 1e9},
      {"index.build_threads", &Config::index_build_threads,
       "threads for background HNSW builds (0 = 1 in serve, all cores in batch commands)", 0, 256},
      {"index.save_interval_s", &Config::index_save_interval_s,
       "seconds between saves of a changed index", 1, 86400},
      {"retrieval.mode",
       &Config::retrieval_mode,
       "default search mode",
       0,
       0,
       {"hybrid", "lexical", "vector"}},
      {"retrieval.candidates", &Config::retrieval_candidates, "hits per signal before fusion", 1,
       10000},
      {"retrieval.lexical_weight", &Config::retrieval_lexical_weight, "RRF weight of BM25", 0, 100},
      {"retrieval.vector_weight", &Config::retrieval_vector_weight, "RRF weight of vectors", 0,
       100},
      {"retrieval.rrf_k", &Config::retrieval_rrf_k, "RRF constant", 0.001, 1e6},
      {"retrieval.stop_words", &Config::retrieval_stop_words,
       "drop English stop words from lexical queries"},
      {"retrieval.mmr", &Config::retrieval_mmr, "diversify results (MMR)"},
      {"retrieval.mmr_lambda", &Config::retrieval_mmr_lambda, "MMR relevance weight", 0, 1},
      {"retrieval.title_weight", &Config::retrieval_title_weight,
       "document search: BM25 weight of title matches", 0, 100},
      {"retrieval.rerank_documents", &Config::retrieval_rerank_documents,
       "document search: rank BM25's documents by their best chunk's similarity (no index walk)"},
      {"retrieval.rerank_vector_weight", &Config::retrieval_rerank_vector_weight,
       "RRF weight of that similarity ranking", 0, 100},
      {"retrieval.context_budget", &Config::retrieval_context_budget, "bytes of RAG context", 100,
       1 << 22},
      {"ingest.max_bytes", &Config::ingest_max_bytes, "largest document accepted", 1, 1LL << 32},
      {"llm.provider",
       &Config::llm_provider,
       "LLM provider",
       0,
       0,
       {"auto", "ollama", "openai", "extractive"}},
      {"llm.ollama_url", &Config::llm_ollama_url, "Ollama base URL (also OLLAMA_BASE_URL)"},
      {"llm.openai_url", &Config::llm_openai_url, "OpenAI-compatible base URL"},
      {"llm.model", &Config::llm_model, "default model (also OLLAMA_DEFAULT_MODEL)"},
      {"llm.api_key", &Config::llm_api_key, "bearer token for the OpenAI-compatible server"},
      {"llm.connect_timeout_ms", &Config::llm_connect_timeout_ms, "LLM connect timeout", 1, kMaxMs},
      {"llm.first_token_timeout_ms", &Config::llm_first_token_timeout_ms,
       "time to the first token (model load included)", 1, kMaxMs},
      {"llm.token_gap_timeout_ms", &Config::llm_token_gap_timeout_ms,
       "longest silence between tokens", 1, kMaxMs},
      {"llm.total_timeout_ms", &Config::llm_total_timeout_ms, "whole answer, retries included", 1,
       kMaxMs},
      {"llm.fallback", &Config::llm_fallback,
       "auto: answer from the knowledge base when the model fails before a token"},
      {"chat.history_turns", &Config::chat_history_turns, "past turns sent to the model", 0, 1000},
      {"chat.context_chunks", &Config::chat_context_chunks, "chunks retrieved per message", 0, 50},
      {"scrape.allow_private", &Config::scrape_allow_private,
       "fetch loopback/private addresses (cloud metadata stays refused)"},
      {"scrape.allow_hosts", &Config::scrape_allow_hosts,
       "comma-separated hosts or .suffixes that alone may be fetched (empty = any)"},
      {"scrape.deny_hosts", &Config::scrape_deny_hosts,
       "comma-separated hosts or .suffixes never fetched"},
      {"scrape.allow_addresses", &Config::scrape_allow_addresses,
       "comma-separated CIDR ranges that may be fetched though private (e.g. 10.1.0.0/16)"},
      {"scrape.connect_timeout_ms", &Config::scrape_connect_timeout_ms, "scrape connect timeout", 1,
       kMaxMs},
      {"scrape.timeout_ms", &Config::scrape_timeout_ms, "whole fetch, redirects included", 1,
       kMaxMs},
      {"scrape.max_bytes", &Config::scrape_max_bytes, "largest page body fetched", 1, 1LL << 30},
      {"scrape.max_redirects", &Config::scrape_max_redirects, "redirects followed per fetch", 0,
       20},
      {"scrape.per_host_concurrency", &Config::scrape_per_host_concurrency,
       "requests in flight to one host", 1, 64},
      {"scrape.politeness_ms", &Config::scrape_politeness_ms,
       "gap between request starts to one host", 0, 60000},
      {"scrape.respect_robots", &Config::scrape_respect_robots, "obey robots.txt"},
      {"scrape.user_agent", &Config::scrape_user_agent, "User-Agent of the fetcher"},
  };
  return specs;
}

// JRVS's own variables, honoured below the JRVS_* ones.
const std::map<std::string, std::string>& LegacyEnv() {
  static const std::map<std::string, std::string> legacy = {
      {"llm.ollama_url", "OLLAMA_BASE_URL"},
      {"llm.model", "OLLAMA_DEFAULT_MODEL"},
  };
  return legacy;
}

std::string EnvName(std::string_view key) {
  std::string out = "JRVS_";
  for (char c : key) out += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

std::string FlagName(std::string_view key) {
  std::string out = "--";
  for (char c : key) out += (c == '.' || c == '_') ? '-' : c;
  return out;
}

std::string TypeName(const Member& m) {
  switch (m.index()) {
    case 0:
      return "string";
    case 1:
      return "int";
    case 2:
      return "bool";
    default:
      return "float";
  }
}

std::optional<std::string> DefaultGetenv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string Describe(ConfigSource source, std::string_view detail) {
  switch (source) {
    case ConfigSource::kDefault:
      return "default";
    case ConfigSource::kFile:
      return fmt::format("file {}", detail);
    case ConfigSource::kEnvironment:
      return fmt::format("environment {}", detail);
    case ConfigSource::kFlag:
      return fmt::format("flag {}", detail);
  }
  return "unknown";
}

// Parses `text` into the member of `config`, checking type and range.
Status Assign(Config& config, const KeySpec& spec, std::string_view text, ConfigSource source,
              std::string_view detail) {
  auto fail = [&](const std::string& why) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{}: {} (from {})", spec.key, why, Describe(source, detail)));
  };
  if (auto* s = std::get_if<std::string Config::*>(&spec.member)) {
    if (!spec.choices.empty() &&
        std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
      return fail(fmt::format("'{}' is not one of {}", text, fmt::join(spec.choices, ", ")));
    }
    config.*(*s) = std::string(text);
    return Status::Ok();
  }
  if (auto* i = std::get_if<int64_t Config::*>(&spec.member)) {
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
      return fail(fmt::format("'{}' is not an integer", text));
    }
    if (static_cast<double>(value) < spec.min || static_cast<double>(value) > spec.max) {
      return fail(fmt::format("{} is out of range {}..{}", value, static_cast<int64_t>(spec.min),
                              static_cast<int64_t>(spec.max)));
    }
    config.*(*i) = value;
    return Status::Ok();
  }
  if (auto* d = std::get_if<double Config::*>(&spec.member)) {
    double value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
      return fail(fmt::format("'{}' is not a number", text));
    }
    if (!(value >= spec.min && value <= spec.max)) {
      return fail(fmt::format("{} is out of range {}..{}", value, spec.min, spec.max));
    }
    config.*(*d) = value;
    return Status::Ok();
  }
  auto b = std::get<bool Config::*>(spec.member);
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
    config.*b = true;
  } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
    config.*b = false;
  } else {
    return fail(fmt::format("'{}' is not a boolean (true/false)", text));
  }
  return Status::Ok();
}

// TOML value -> text in the same syntax the environment uses, or an error for the wrong type.
Result<std::string> TomlText(const toml::node& node, const KeySpec& spec, const std::string& file) {
  auto wrong = [&](std::string_view want) {
    return Error(StatusCode::kInvalidArgument,
                 fmt::format("{}: expected {} (from file {})", spec.key, want, file));
  };
  switch (spec.member.index()) {
    case 0:
      if (auto v = node.value<std::string>(); v && node.is_string()) return *v;
      return wrong("a string");
    case 1:
      if (node.is_integer()) return std::to_string(*node.value<int64_t>());
      return wrong("an integer");
    case 2:
      if (node.is_boolean()) return std::string(*node.value<bool>() ? "true" : "false");
      return wrong("a boolean");
    default:
      if (node.is_integer()) return std::to_string(*node.value<int64_t>());
      if (node.is_floating_point()) return fmt::format("{}", *node.value<double>());
      return wrong("a number");
  }
}

const KeySpec* FindSpec(std::string_view key) {
  for (const auto& s : Specs()) {
    if (key == s.key) return &s;
  }
  return nullptr;
}

Status LoadFile(Config& config, ConfigOrigin& origin, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status(
        StatusCode::kInvalidArgument,
        fmt::format("config file {}:{}:{}: {}", path, where.line, where.column, e.description()));
  }
  for (const auto& [section, node] : table) {
    const auto* sub = node.as_table();
    if (sub == nullptr) {
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("config file {}: top-level key '{}' must be a [section]", path,
                                section.str()));
    }
    for (const auto& [name, value] : *sub) {
      std::string key = fmt::format("{}.{}", section.str(), name.str());
      const KeySpec* spec = FindSpec(key);
      if (spec == nullptr) {
        return Status(StatusCode::kInvalidArgument,
                      fmt::format("config file {}: unknown key '{}'", path, key));
      }
      auto text = TomlText(value, *spec, path);
      if (!text) return text.error();
      if (auto s = Assign(config, *spec, *text, ConfigSource::kFile, path); !s.ok()) return s;
      origin.sources[key] = ConfigSource::kFile;
    }
  }
  origin.file = path;
  return Status::Ok();
}

}  // namespace

std::string_view ConfigSourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kDefault:
      return "default";
    case ConfigSource::kFile:
      return "file";
    case ConfigSource::kEnvironment:
      return "env";
    case ConfigSource::kFlag:
      return "flag";
  }
  return "unknown";
}

Result<Config> LoadConfig(const LoadOptions& options, ConfigOrigin* origin_out) {
  auto getenv_fn = options.getenv_fn != nullptr ? options.getenv_fn : &DefaultGetenv;
  Config config;
  ConfigOrigin origin;
  for (const auto& s : Specs()) origin.sources[s.key] = ConfigSource::kDefault;

  std::optional<std::string> path = options.config_path;
  if (!path) path = getenv_fn("JRVS_CONFIG");
  if (path) {
    if (!std::filesystem::exists(*path)) {
      return Error(StatusCode::kInvalidArgument, fmt::format("config file {} not found", *path));
    }
  } else if (std::filesystem::exists("jrvs.toml")) {
    path = "jrvs.toml";
  }
  if (path) {
    if (auto s = LoadFile(config, origin, *path); !s.ok()) return Error(s);
  }

  for (const auto& spec : Specs()) {
    std::string env = EnvName(spec.key);
    auto value = getenv_fn(env.c_str());
    if (!value) {
      auto legacy = LegacyEnv().find(spec.key);
      if (legacy != LegacyEnv().end()) {
        env = legacy->second;
        value = getenv_fn(env.c_str());
      }
    }
    if (!value) continue;
    if (auto s = Assign(config, spec, *value, ConfigSource::kEnvironment, env); !s.ok()) {
      return Error(s);
    }
    origin.sources[spec.key] = ConfigSource::kEnvironment;
  }

  for (const auto& [key, value] : options.flags) {
    const KeySpec* spec = FindSpec(key);
    if (spec == nullptr) {
      return Error(StatusCode::kInvalidArgument,
                   fmt::format("unknown configuration key '{}'", key));
    }
    if (auto s = Assign(config, *spec, value, ConfigSource::kFlag, FlagName(key)); !s.ok()) {
      return Error(s);
    }
    origin.sources[key] = ConfigSource::kFlag;
  }

  if (config.data_dir.empty()) {
    return Error(StatusCode::kInvalidArgument, "data.dir: must not be empty");
  }
  if (config.server_host.empty()) {
    return Error(StatusCode::kInvalidArgument, "server.host: must not be empty");
  }
  if (config.chunk_overlap >= config.chunk_size) {
    return Error(StatusCode::kInvalidArgument, "chunk.overlap: must be smaller than chunk.size");
  }
  if (config.history_default_limit > config.history_max_limit) {
    return Error(StatusCode::kInvalidArgument,
                 "history.default_limit: must not exceed history.max_limit");
  }
  if (origin_out != nullptr) *origin_out = std::move(origin);
  return config;
}

const std::vector<ConfigKeyInfo>& ConfigKeys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    std::vector<ConfigKeyInfo> out;
    for (const auto& s : Specs()) {
      out.push_back(
          {s.key, EnvName(s.key), FlagName(s.key), s.short_flag, TypeName(s.member), s.help});
    }
    return out;
  }();
  return keys;
}

std::string ConfigValueText(const Config& config, std::string_view key) {
  const KeySpec* spec = FindSpec(key);
  if (spec == nullptr) return {};
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = config.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{}", v);
        } else {
          return std::to_string(v);
        }
      },
      spec->member);
}

std::string FormatConfig(const Config& config, const ConfigOrigin& origin) {
  std::string out;
  if (origin.file) out += fmt::format("# config file: {}\n", *origin.file);
  size_t width = 0;
  for (const auto& s : Specs()) {
    std::string value = ConfigValueText(config, s.key);
    width = std::max(width, std::string_view(s.key).size() + value.size() + 5);
  }
  for (const auto& s : Specs()) {
    std::string value = ConfigValueText(config, s.key);
    if (std::string_view(s.key) == "llm.api_key" && !value.empty()) value = "***";
    if (s.member.index() == 0) value = fmt::format("\"{}\"", value);
    std::string lhs = fmt::format("{} = {}", s.key, value);
    auto it = origin.sources.find(s.key);
    ConfigSource src = it == origin.sources.end() ? ConfigSource::kDefault : it->second;
    out += fmt::format("{:<{}}  # {}\n", lhs, width, ConfigSourceName(src));
  }
  return out;
}

}  // namespace jrvs::app
