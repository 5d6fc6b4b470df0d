// Effective configuration of jrvs: jrvs.toml < environment < command-line flags (DESIGN.md §8).
//
// One naming rule: the TOML key `section.name` is the environment variable JRVS_SECTION_NAME and
// the flag --section-name (a few keys also have a short flag, e.g. --port for server.port).
// Every key is described once in the table of config.cc: its type, default, range and help text;
// loading, validation, flags and `jrvs config` all come from that table. Not thread-safe to
// mutate; read-only use after Load() is safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::app {

enum class ConfigSource { kDefault, kFile, kEnvironment, kFlag };
std::string_view ConfigSourceName(ConfigSource source);

struct Config {
  // [server]
  std::string server_host = "127.0.0.1";        // bind address
  int64_t server_port = 8000;                   // TCP port; 0 picks a free one
  int64_t server_threads = 0;                   // I/O threads; 0 = number of cores
  int64_t server_workers = 0;                   // handler worker threads; 0 = number of cores
  int64_t server_max_queued = 1024;             // queued requests before 503
  int64_t server_slow_workers = 128;            // threads for slow routes (LLM, scrape) and streams
  int64_t server_max_queued_slow = 256;         // queued slow requests before 503
  int64_t server_ws_max_sessions = 1024;        // WebSocket sessions open at once; more get 503
  int64_t server_ws_max_message_bytes = 65536;  // largest client WebSocket message (1009 beyond)
  int64_t server_ws_idle_timeout_ms = 300000;   // WebSocket idle time with nothing being answered
  int64_t server_max_header_bytes = 16384;      // request line + headers before 431
  int64_t server_body_limit = 1 << 20;          // request body bytes before 413
  int64_t server_header_timeout_ms = 10000;
  int64_t server_body_timeout_ms = 30000;
  int64_t server_idle_timeout_ms = 60000;
  int64_t server_write_timeout_ms = 30000;
  int64_t server_shutdown_grace_ms = 5000;
  std::string server_cors_origins;  // comma-separated; empty = CORS off; "*" = any
  bool server_access_log = false;
  // [data]
  std::string data_dir = "./data";
  // [log]
  std::string log_level = "info";
  // [store]
  std::string store_backend = "sqlite";
  int64_t store_busy_timeout_ms = 5000;
  int64_t store_batch_max = 512;  // writes per group commit
  int64_t store_queue_capacity = 65536;
  int64_t store_cache_kib = 8192;  // SQLite page cache per connection, KiB
  bool store_memory_fts = true;    // serve/chat: search in-memory copies of the FTS5 indexes
  int64_t store_mmap_bytes = 0;    // SQLite memory-mapped reads per connection; 0 = off
  // [history]
  int64_t history_default_limit = 50;  // turns returned by GET /api/history without ?limit=
  int64_t history_max_limit = 1000;
  // [chunk]
  int64_t chunk_size = 512;    // bytes per chunk
  int64_t chunk_overlap = 64;  // bytes carried into the next chunk
  // [embed]
  std::string embed_provider = "hash";           // hash | ollama | openai
  std::string embed_model = "nomic-embed-text";  // for ollama/openai
  std::string embed_url;                         // empty: llm.ollama_url or llm.openai_url
  int64_t embed_dimension = 384;                 // hash embedder dimension
  int64_t embed_batch = 64;                      // texts per embedder call
  int64_t embed_cache_size = 10000;              // cached query/chunk embeddings (0 = off)
  // [index]
  int64_t index_ann_threshold = 10000;  // vectors at which exact search switches to HNSW
  int64_t index_hnsw_m = 32;
  int64_t index_ef_construction = 200;
  int64_t index_ef_search = 0;         // 0 = rag::AutoEfSearch(vectors in the graph)
  bool index_quantized_walk = true;    // HNSW walk on an int8 copy of the vectors
  bool index_float16 = true;           // vectors stored in IEEE half precision
  int64_t index_defer_max = 65536;     // graph work waits for a burst of adds up to this backlog
  int64_t index_build_threads = 0;     // background HNSW build threads; 0 = 1 in serve, else cores
  int64_t index_save_interval_s = 30;  // how often a changed index is persisted
  // [retrieval]
  std::string retrieval_mode = "hybrid";  // hybrid | lexical | vector
  int64_t retrieval_candidates = 50;
  double retrieval_lexical_weight = 1.0;
  double retrieval_vector_weight = 0.2;  // from CISI (docs/PERFORMANCE.md)
  double retrieval_rrf_k = 60;
  bool retrieval_stop_words = true;
  bool retrieval_mmr = false;
  double retrieval_mmr_lambda = 0.7;
  int64_t retrieval_context_budget = 4000;      // bytes of RAG context
  double retrieval_title_weight = 2.0;          // document search: title vs content BM25 weight
  bool retrieval_rerank_documents = true;       // document search: rank BM25's documents by vector
  double retrieval_rerank_vector_weight = 0.4;  // ... with this RRF weight
  // [ingest]
  int64_t ingest_max_bytes = 10 << 20;  // largest document accepted
  // [llm] (used by chat; here so /health can name the configured model)
  std::string llm_provider = "auto";  // auto | ollama | openai | extractive
  std::string llm_ollama_url = "http://127.0.0.1:11434";
  std::string llm_openai_url = "http://127.0.0.1:1234";
  std::string llm_model = "llama3.2";
  std::string llm_api_key;  // OpenAI-compatible bearer token (never printed)
  int64_t llm_connect_timeout_ms = 2000;
  int64_t llm_first_token_timeout_ms = 60000;  // includes model load
  int64_t llm_token_gap_timeout_ms = 30000;
  int64_t llm_total_timeout_ms = 600000;
  bool llm_fallback = true;  // auto: answer extractively when the model fails before a token
  // [chat]
  int64_t chat_history_turns = 6;   // past turns sent to the model
  int64_t chat_context_chunks = 5;  // chunks retrieved per message
  // [scrape] (the web fetcher, scrape/curl_fetcher.h; mirrored by CurlFetcherOptions)
  bool scrape_allow_private = false;   // fetch private/loopback addresses (never cloud metadata)
  std::string scrape_allow_hosts;      // comma-separated hosts or .suffixes; empty = any host
  std::string scrape_deny_hosts;       // comma-separated hosts or .suffixes; always refused
  std::string scrape_allow_addresses;  // comma-separated CIDR ranges exempt from the private check
  int64_t scrape_connect_timeout_ms = 5000;
  int64_t scrape_timeout_ms = 15000;   // whole fetch, redirects included
  int64_t scrape_max_bytes = 5 << 20;  // body cap; larger pages are refused
  int64_t scrape_max_redirects = 5;
  int64_t scrape_per_host_concurrency = 2;  // requests in flight to one host
  int64_t scrape_politeness_ms = 250;       // gap between request starts to one host
  bool scrape_respect_robots = true;
  std::string scrape_user_agent = "jrvs/" JRVS_VERSION;  // robots.txt token = text before '/'
};

// Where each key's value came from, plus the file that was read (if any).
struct ConfigOrigin {
  std::map<std::string, ConfigSource> sources;  // key -> source
  std::optional<std::string> file;
};

// Command-line values already parsed by the caller: key -> raw text (e.g. "server.port" -> "90").
using FlagValues = std::map<std::string, std::string>;

// Loads defaults, then the TOML file (`config_path`, else $JRVS_CONFIG, else ./jrvs.toml if it
// exists), then the environment (`env` lookup, normally getenv), then flags; validates every
// value. Errors name the key and the source, e.g. "server.port: 70000 is out of range 0..65535
// (from environment JRVS_SERVER_PORT)".
struct LoadOptions {
  std::optional<std::string> config_path;
  FlagValues flags;
  // Environment lookup; defaults to getenv.
  std::optional<std::string> (*getenv_fn)(const char*) = nullptr;
};
Result<Config> LoadConfig(const LoadOptions& options, ConfigOrigin* origin = nullptr);

// One described key, for flags and `jrvs config`.
struct ConfigKeyInfo {
  std::string key;         // "server.port"
  std::string env;         // "JRVS_SERVER_PORT"
  std::string flag;        // "--server-port"
  std::string short_flag;  // "--port" or ""
  std::string type;        // "string" | "int" | "float" | "bool"
  std::string help;
};
const std::vector<ConfigKeyInfo>& ConfigKeys();

// The value of `key` in `config`, as text (for printing).
std::string ConfigValueText(const Config& config, std::string_view key);

// `jrvs config` output: one line per key, "key = value  # source".
std::string FormatConfig(const Config& config, const ConfigOrigin& origin);

}  // namespace jrvs::app
