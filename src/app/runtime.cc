#include "app/runtime.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "llm/extractive_client.h"
#include "llm/fallback_client.h"
#include "llm/ollama_client.h"
#include "llm/openai_client.h"
#include "rag/embedding_cache.h"
#include "rag/hash_embedder.h"
#include "rag/remote_embedders.h"
#include "scrape/curl_fetcher.h"
#include "scrape/ssrf_guard.h"
#include "store/sqlite_store.h"

namespace jrvs::app {

Result<std::unique_ptr<Runtime>> Runtime::Open(const Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return Error(StatusCode::kFailedPrecondition,
                 fmt::format("data.dir: cannot create {}: {}", config.data_dir, ec.message()));
  }
  std::unique_ptr<Runtime> rt(new Runtime(config));
  store::SqliteOptions options;
  options.path = (std::filesystem::path(config.data_dir) / "jrvs.db").string();
  options.busy_timeout_ms = static_cast<int>(config.store_busy_timeout_ms);
  options.max_batch_ops = static_cast<size_t>(config.store_batch_max);
  options.write_queue_capacity = static_cast<size_t>(config.store_queue_capacity);
  options.cache_size_kib = static_cast<int>(config.store_cache_kib);
  options.mmap_size_bytes = config.store_mmap_bytes;
  auto store = store::SqliteStore::Open(options, &rt->metrics_, nullptr);
  if (!store) return Error(store.error());
  rt->sqlite_ = store->get();
  rt->store_ = std::move(*store);
  return rt;
}

Runtime::~Runtime() {
  {
    std::lock_guard lock(saver_mu_);
    stop_saver_ = true;
  }
  saver_cv_.notify_all();
  if (saver_.joinable()) saver_.join();
  if (prober_.joinable()) prober_.join();
  if (index_ != nullptr) {
    if (Status s = index_->Save(); !s.ok()) {
      spdlog::error("saving the vector index failed: {}", s.message());
    }
  }
}

Status Runtime::EnableMemorySearch() {
  if (!config_.store_memory_fts) return Status::Ok();
  auto t0 = std::chrono::steady_clock::now();
  if (Status s = sqlite_->EnableMemoryFts(); !s.ok()) {
    return Status(s.code(), "store.memory_fts: " + s.message());
  }
  store::MemoryFtsStats chunks = sqlite_->MemoryFtsChunkStats();
  store::MemoryFtsStats documents = sqlite_->MemoryFtsDocumentStats();
  spdlog::info("full-text index in memory: {} chunks, {} documents, {:.1f} MiB, built in {:.2f} s",
               chunks.live_rows, documents.live_rows,
               static_cast<double>(chunks.bytes + documents.bytes) / (1 << 20),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return Status::Ok();
}

Result<std::unique_ptr<rag::Embedder>> Runtime::MakeEmbedder() {
  const Config& c = config_;
  if (c.embed_provider == "hash") {
    rag::HashEmbedderOptions o;
    o.dimension = static_cast<size_t>(c.embed_dimension);
    if (Status s = o.Validate(); !s.ok())
      return Error(StatusCode::kInvalidArgument, "embed: " + s.message());
    return std::unique_ptr<rag::Embedder>(std::make_unique<rag::HashEmbedder>(o));
  }
  if (c.embed_provider == "ollama") {
    rag::OllamaEmbedderOptions o;
    o.base_url = c.embed_url.empty() ? c.llm_ollama_url : c.embed_url;
    o.model = c.embed_model;
    o.batch_size = static_cast<size_t>(c.embed_batch);
    auto e = rag::OllamaEmbedder::Create(o);
    if (!e) return Error(e.error());
    return std::unique_ptr<rag::Embedder>(std::move(*e));
  }
  rag::OpenAiEmbedderOptions o;
  o.base_url = c.embed_url.empty() ? c.llm_openai_url : c.embed_url;
  o.model = c.embed_model;
  o.batch_size = static_cast<size_t>(c.embed_batch);
  auto e = rag::OpenAiEmbedder::Create(o);
  if (!e) return Error(e.error());
  return std::unique_ptr<rag::Embedder>(std::move(*e));
}

Status Runtime::OpenKnowledge(bool background_save) {
  const Config& c = config_;
  auto embedder = MakeEmbedder();
  if (!embedder) return embedder.error();
  if (c.embed_cache_size > 0) {
    rag::EmbeddingCacheOptions cache_options;
    cache_options.capacity = static_cast<size_t>(c.embed_cache_size);
    auto cache =
        std::make_unique<rag::CachingEmbedder>(std::move(*embedder), cache_options, &metrics_);
    cache_ = cache.get();
    embedder_ = std::move(cache);
  } else {
    embedder_ = std::move(*embedder);
  }

  rag::IndexManagerOptions index_options;
  index_options.path = std::filesystem::path(c.data_dir) / "index" / "vectors.faiss";
  index_options.embedding_model = std::string(embedder_->model());
  index_options.faiss.dimension = embedder_->dimension();
  index_options.faiss.ann_threshold = static_cast<size_t>(c.index_ann_threshold);
  index_options.faiss.hnsw_m = static_cast<int>(c.index_hnsw_m);
  index_options.faiss.hnsw_ef_construction = static_cast<int>(c.index_ef_construction);
  index_options.faiss.hnsw_ef_search = static_cast<int>(c.index_ef_search);
  index_options.faiss.quantized_walk = c.index_quantized_walk;
  index_options.faiss.float16 = c.index_float16;
  // Batch commands (no background_save) serve no searches while they run, so their graph is
  // built once, with every core, when the adds stop; `serve` caps the exact backlog.
  index_options.faiss.defer_max =
      background_save ? static_cast<size_t>(c.index_defer_max) : std::numeric_limits<size_t>::max();
  // Builds run on the index's background thread; searches always use one thread each. Under
  // `serve` (background_save) one build thread by default: with two, a rebuild took both cores
  // of this machine from the requests (ingestion fell from ~1,800 to ~1,100 docs/s). Batch
  // commands have no requests to serve and use every core.
  index_options.faiss.build_threads =
      c.index_build_threads > 0
          ? static_cast<int>(c.index_build_threads)
          : (background_save ? 1
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (Status s = index_options.faiss.Validate(); !s.ok()) {
    return Status(StatusCode::kInvalidArgument, "index: " + s.message());
  }
  auto index = rag::IndexManager::Open(index_options, *store_, &metrics_);
  if (!index) return index.error();
  index_ = std::move(*index);
  const auto& report = index_->open_report();
  if (report.rebuilt) {
    spdlog::info("vector index rebuilt ({}): {} vectors", report.rebuild_reason, report.replayed);
  } else {
    spdlog::info("vector index loaded; {} newer chunks replayed", report.replayed);
  }

  rag::IngestOptions ingest_options;
  ingest_options.chunker.max_chars = static_cast<size_t>(c.chunk_size);
  ingest_options.chunker.overlap_chars = static_cast<size_t>(c.chunk_overlap);
  ingest_options.embed_batch = static_cast<size_t>(c.embed_batch);
  ingest_options.max_content_bytes = static_cast<size_t>(c.ingest_max_bytes);
  if (Status s = ingest_options.chunker.Validate(); !s.ok()) {
    return Status(StatusCode::kInvalidArgument, "chunk: " + s.message());
  }
  ingest_ = std::make_unique<rag::IngestPipeline>(*store_, *embedder_, *index_, ingest_options,
                                                  &metrics_);

  rag::RetrieverOptions r;
  r.mode = rag::ParseSearchMode(c.retrieval_mode).value_or(rag::SearchMode::kHybrid);
  r.candidates = static_cast<size_t>(c.retrieval_candidates);
  r.lexical_weight = c.retrieval_lexical_weight;
  r.vector_weight = c.retrieval_vector_weight;
  r.rrf_k = c.retrieval_rrf_k;
  r.drop_stop_words = c.retrieval_stop_words;
  r.mmr = c.retrieval_mmr;
  r.mmr_lambda = c.retrieval_mmr_lambda;
  r.title_weight = c.retrieval_title_weight;
  r.rerank_documents = c.retrieval_rerank_documents;
  r.rerank_vector_weight = c.retrieval_rerank_vector_weight;
  if (Status s = r.Validate(); !s.ok()) {
    return Status(StatusCode::kInvalidArgument, "retrieval: " + s.message());
  }
  retriever_ = std::make_unique<rag::HybridRetriever>(*store_, *embedder_, *index_, r, &metrics_);

  if (background_save) saver_ = std::thread([this] { SaveLoop(); });
  return Status::Ok();
}

api::IndexInfo Runtime::KnowledgeStats() {
  api::IndexInfo info;
  auto index = index_->index();
  info.total_vectors = static_cast<int64_t>(index->size());
  info.dimension = static_cast<int64_t>(index->dimension());
  info.index_size_mb = static_cast<double>(index->memory_bytes()) / (1024.0 * 1024.0);
  info.index_type = index->type();
  info.embedding_dimension = static_cast<int64_t>(embedder_->dimension());
  info.embedding_cache_size = static_cast<int64_t>(embedding_cache_size());
  return info;
}

size_t Runtime::embedding_cache_size() const { return cache_ != nullptr ? cache_->size() : 0; }

Status Runtime::OpenChat() {
  const Config& c = config_;
  auto timeouts = [&](llm::RemoteLlmOptions& o) {
    o.timeouts.connect_ms = static_cast<int>(c.llm_connect_timeout_ms);
    o.timeouts.first_token_ms = static_cast<int>(c.llm_first_token_timeout_ms);
    o.timeouts.token_gap_ms = static_cast<int>(c.llm_token_gap_timeout_ms);
    o.timeouts.total_ms = static_cast<int>(c.llm_total_timeout_ms);
    o.default_model = c.llm_model;
    o.metrics = &metrics_;
  };
  std::string model = c.llm_model;
  // The extractive client records llm_* metrics too (provider "extractive"), so /metrics shows
  // time to first token and tokens/s whichever client answered.
  llm::ExtractiveOptions extractive_options;
  extractive_options.metrics = &metrics_;
  if (c.llm_provider == "extractive") {
    llm_ = std::make_unique<llm::ExtractiveClient>(extractive_options);
    model = "extractive";
  } else if (c.llm_provider == "openai") {
    llm::OpenAiClientOptions o;
    o.base_url = c.llm_openai_url;
    o.api_key = c.llm_api_key;
    timeouts(o);
    auto client = llm::OpenAiClient::Create(o);
    if (!client) return Status(client.error().code(), "llm: " + client.error().message());
    llm_ = std::move(*client);
  } else {
    llm::OllamaClientOptions o;
    o.base_url = c.llm_ollama_url;
    timeouts(o);
    if (c.llm_provider == "auto") {
      // With a fallback at hand, a quick extractive answer beats waiting out the default
      // retries (250 + 500 ms) on a model server that is simply not running.
      o.retry.max_retries = 1;
      o.retry.initial_backoff_ms = 100;
    }
    auto client = llm::OllamaClient::Create(o);
    if (!client) return Status(client.error().code(), "llm: " + client.error().message());
    if (c.llm_provider == "auto") {
      llm::FallbackOptions f;
      f.fallback_on_error = c.llm_fallback;
      f.metrics = &metrics_;
      llm_ = std::make_unique<llm::FallbackClient>(
          std::move(*client), std::make_unique<llm::ExtractiveClient>(extractive_options), f);
    } else {
      llm_ = std::move(*client);
    }
  }
  rag::ChatServiceOptions chat_options;
  chat_options.history_turns = static_cast<size_t>(c.chat_history_turns);
  chat_options.context_chunks = static_cast<size_t>(c.chat_context_chunks);
  chat_options.context_budget_bytes = static_cast<size_t>(c.retrieval_context_budget);
  chat_ = std::make_unique<rag::ChatService>(*store_, *retriever_, *llm_, model, chat_options,
                                             &metrics_);
  prober_ = std::thread([this] { ProbeLoop(); });
  return Status::Ok();
}

llm::HealthReport Runtime::llm_health() const {
  std::lock_guard lock(health_mu_);
  return llm_health_;
}

void Runtime::ProbeLoop() {
  std::unique_lock lock(saver_mu_);
  do {
    lock.unlock();
    llm::HealthReport report = llm_->Health();
    {
      std::lock_guard health_lock(health_mu_);
      llm_health_ = std::move(report);
    }
    lock.lock();
  } while (!saver_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stop_saver_; }));
}

Status Runtime::OpenScraper() {
  const Config& c = config_;
  scrape::CurlFetcherOptions o;
  o.allow_private = c.scrape_allow_private;
  o.allow_hosts = scrape::SplitHostList(c.scrape_allow_hosts);
  o.deny_hosts = scrape::SplitHostList(c.scrape_deny_hosts);
  o.allow_addresses = scrape::SplitHostList(c.scrape_allow_addresses);
  o.connect_timeout_ms = static_cast<int>(c.scrape_connect_timeout_ms);
  o.timeout_ms = static_cast<int>(c.scrape_timeout_ms);
  o.max_bytes = static_cast<size_t>(c.scrape_max_bytes);
  o.max_redirects = static_cast<int>(c.scrape_max_redirects);
  o.per_host_concurrency = static_cast<int>(c.scrape_per_host_concurrency);
  o.politeness_ms = static_cast<int>(c.scrape_politeness_ms);
  o.respect_robots = c.scrape_respect_robots;
  o.user_agent = c.scrape_user_agent;
  if (Status s = o.Validate(); !s.ok()) return s;
  fetcher_ = std::make_unique<scrape::CurlFetcher>(std::move(o));
  return Status::Ok();
}

Status Runtime::SaveIndex() {
  if (index_ == nullptr) return Status::Ok();
  return index_->Save();
}

void Runtime::SaveLoop() {
  const auto interval = std::chrono::seconds(config_.index_save_interval_s);
  std::unique_lock lock(saver_mu_);
  while (!saver_cv_.wait_for(lock, interval, [this] { return stop_saver_; })) {
    lock.unlock();
    if (Status s = index_->Save(); !s.ok()) {
      spdlog::error("saving the vector index failed: {}", s.message());
    }
    lock.lock();
  }
}

}  // namespace jrvs::app
