// Runtime: the components of one jrvs process, built from a Config and wired together. Every
// command that touches data opens one; `serve` adds the HTTP server on top. With main.cc and the
// commands, the only place that knows concrete component types.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "api/system_api.h"
#include "app/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "llm/llm_client.h"
#include "rag/chat_service.h"
#include "rag/embedder.h"
#include "rag/embedding_cache.h"
#include "rag/index_manager.h"
#include "rag/ingest_pipeline.h"
#include "rag/retriever.h"
#include "scrape/fetcher.h"
#include "store/store.h"

namespace jrvs::store {
class SqliteStore;
}  // namespace jrvs::store

namespace jrvs::app {

class Runtime {
 public:
  // Creates the data directory if needed and opens the database.
  static Result<std::unique_ptr<Runtime>> Open(const Config& config);
  // Stops the background saver and saves the index one last time.
  ~Runtime();

  // Opens the embedder, the vector index (load, replay or rebuild), the ingest pipeline and the
  // retriever. `background_save` starts a thread saving a changed index every
  // index.save_interval_s seconds.
  Status OpenKnowledge(bool background_save);

  // With store.memory_fts (the default), builds the in-memory copies of the full-text indexes
  // (store/memory_fts.h) that searches use from then on. For long-running commands (serve, chat).
  Status EnableMemorySearch();

  const Config& config() const { return config_; }
  MetricsRegistry& metrics() { return metrics_; }
  store::Store& store() { return *store_; }
  // Valid after OpenKnowledge().
  rag::Embedder& embedder() { return *embedder_; }
  rag::IndexManager& index() { return *index_; }
  rag::IngestPipeline& ingest() { return *ingest_; }
  const rag::HybridRetriever& retriever() const { return *retriever_; }
  bool knowledge_open() const { return retriever_ != nullptr; }
  // Entries in the embedding cache (0 when it is off).
  size_t embedding_cache_size() const;
  // The vector index and embedder figures of /api/stats (after OpenKnowledge).
  api::IndexInfo KnowledgeStats();

  // Opens the LLM client chosen by llm.provider and the chat service (after OpenKnowledge).
  Status OpenChat();
  llm::LlmClient& llm() { return *llm_; }
  // The last LLM health probe (a background thread probes every 5 s, so /health never waits on
  // the model server).
  llm::HealthReport llm_health() const;
  rag::ChatService& chat() { return *chat_; }

  // Builds the web fetcher (scrape::CurlFetcher) from the scrape.* keys, for `jrvs scrape` and
  // /api/scrape. The fetcher() is valid after it succeeds.
  Status OpenScraper();
  scrape::Fetcher& fetcher() { return *fetcher_; }

  // Persists the vector index if it changed.
  Status SaveIndex();

 private:
  explicit Runtime(Config config) : config_(std::move(config)) {}
  Result<std::unique_ptr<rag::Embedder>> MakeEmbedder();
  void SaveLoop();

  Config config_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::Store> store_;
  store::SqliteStore* sqlite_ = nullptr;  // store_, as the SQLite backend it is
  std::unique_ptr<rag::Embedder> embedder_;
  const rag::CachingEmbedder* cache_ = nullptr;  // inside embedder_ when the cache is on
  std::unique_ptr<rag::IndexManager> index_;
  std::unique_ptr<rag::IngestPipeline> ingest_;
  std::unique_ptr<rag::HybridRetriever> retriever_;
  std::unique_ptr<llm::LlmClient> llm_;
  std::unique_ptr<rag::ChatService> chat_;
  std::unique_ptr<scrape::Fetcher> fetcher_;

  void ProbeLoop();

  std::thread saver_;
  std::thread prober_;
  std::mutex saver_mu_;  // guards stop_saver_ (also wakes the prober)
  std::condition_variable saver_cv_;
  bool stop_saver_ = false;
  mutable std::mutex health_mu_;  // guards llm_health_
  llm::HealthReport llm_health_{false, "not probed yet"};
};

}  // namespace jrvs::app
