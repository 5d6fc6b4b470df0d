// Runtime: the components of one jrvs process, built from a Config and wired together. Every
// command that touches data opens one; `serve` adds the HTTP server on top. With main.cc and the
// commands, the only place that knows concrete component types.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "app/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "rag/embedder.h"
#include "rag/embedding_cache.h"
#include "rag/index_manager.h"
#include "rag/ingest_pipeline.h"
#include "rag/retriever.h"
#include "store/store.h"

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

  // Persists the vector index if it changed.
  Status SaveIndex();

 private:
  explicit Runtime(Config config) : config_(std::move(config)) {}
  Result<std::unique_ptr<rag::Embedder>> MakeEmbedder();
  void SaveLoop();

  Config config_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<rag::Embedder> embedder_;
  const rag::CachingEmbedder* cache_ = nullptr;  // inside embedder_ when the cache is on
  std::unique_ptr<rag::IndexManager> index_;
  std::unique_ptr<rag::IngestPipeline> ingest_;
  std::unique_ptr<rag::HybridRetriever> retriever_;

  std::thread saver_;
  std::mutex saver_mu_;  // guards stop_saver_
  std::condition_variable saver_cv_;
  bool stop_saver_ = false;
};

}  // namespace jrvs::app
