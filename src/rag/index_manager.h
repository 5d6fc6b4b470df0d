// IndexManager: keeps the vector index consistent with the database (DESIGN.md §4).
//
// At Open it loads the saved index and replays chunks newer than the saved watermark; it
// rebuilds from the database when the file is missing, corrupt, or was built with another
// embedding model or dimension.
//
// Write protocol: a writer takes a WriteTicket BEFORE its database transaction and keeps it until
// it has updated the index (AddChunks/RemoveChunks). Save() takes the gate exclusively just long
// enough to read the watermark, so the saved watermark never covers a committed chunk that is not
// yet in the index; a crash between commit and index update is healed by the replay at Open.
//
// Thread safety: all methods may be called concurrently. Searches use index(), a shared handle
// that stays valid even if Rebuild() swaps in a new index meanwhile.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>

#include "core/metrics.h"
#include "core/status.h"
#include "rag/faiss_index.h"
#include "store/store.h"

namespace jrvs::rag {

struct IndexManagerOptions {
  // Where the index file lives (e.g. <data>/index/faiss.idx).
  std::filesystem::path path;
  // FAISS settings; `dimension` must equal the embedder's.
  FaissIndexOptions faiss;
  // Embedding model name of the vectors the index must hold (the embedder's model()).
  std::string embedding_model;
};

// What happened at Open, for logs, /health and tests.
struct IndexOpenReport {
  bool loaded = false;         // a saved index was read
  bool rebuilt = false;        // the index was rebuilt from the database
  std::string rebuild_reason;  // why ("missing", "corrupt: ...", "model changed", ...)
  int64_t replayed = 0;        // chunks added from the database after loading or rebuilding
  int64_t stale = 0;           // chunks skipped: no embedding or another model (run reindex)
};

class IndexManager {
 public:
  static Result<std::unique_ptr<IndexManager>> Open(IndexManagerOptions options,
                                                    store::Store& store,
                                                    MetricsRegistry* metrics = nullptr);
  ~IndexManager();

  // The current index; keep the handle for the duration of one search.
  std::shared_ptr<const VectorIndex> index() const;
  const IndexOpenReport& open_report() const { return report_; }
  const std::string& embedding_model() const { return options_.embedding_model; }

  // Held by a writer from before its database transaction until its index update.
  class WriteTicket {
   public:
    explicit WriteTicket(std::shared_mutex& gate) : lock_(gate) {}

   private:
    std::shared_lock<std::shared_mutex> lock_;
  };
  WriteTicket BeginWrite() { return WriteTicket(gate_); }

  // Adds committed chunks (vectors row-major, dimension per row).
  Status AddChunks(const WriteTicket& ticket, std::span<const int64_t> ids,
                   std::span<const float> vectors);
  // Removes chunks (deleted or replaced in the database).
  Status RemoveChunks(const WriteTicket& ticket, std::span<const int64_t> ids);

  // Persists the index if it changed since the last save. Writers wait only while the watermark
  // is read; searches never wait.
  Status Save();
  // Rebuilds the index from the database (e.g. after `jrvs reindex`) and swaps it in. Writers
  // wait until it is done; searches continue on the old index.
  Status Rebuild();

  // Whether there are unsaved changes.
  bool dirty() const { return dirty_.load(); }

 private:
  IndexManager(IndexManagerOptions options, store::Store& store);
  // Adds every chunk with id > after_id whose model matches; returns how many.
  Result<int64_t> Replay(FaissIndex& index, int64_t after_id, int64_t* stale);
  std::shared_ptr<FaissIndex> current() const;
  void UpdateGauges();

  IndexManagerOptions options_;
  store::Store& store_;
  mutable std::mutex index_mu_;  // guards the index_ pointer (not the index, which locks itself)
  std::shared_ptr<FaissIndex> index_;
  IndexOpenReport report_;
  // Shared by writers from before their commit until their index update; exclusive while Save
  // reads the watermark and while Rebuild runs.
  std::shared_mutex gate_;
  std::atomic<bool> dirty_{false};
  // The highest chunk id known to be in the index (the saved watermark).
  std::atomic<int64_t> watermark_{0};
  Gauge* vectors_gauge_ = nullptr;
  Counter* saves_counter_ = nullptr;
};

}  // namespace jrvs::rag
