// IngestPipeline: document -> chunks -> embeddings (batched) -> one database transaction
// (document, chunks, embeddings, full-text rows) -> vector index (DESIGN.md §4, §5).
//
// The same URL again updates the document; the same content again (same URL, or no URL and an
// identical stored document) is skipped before any embedding work. Delete removes the document,
// its chunks, full-text rows and vectors. Thread-safe: Ingest and Delete may run concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "rag/chunker.h"
#include "rag/embedder.h"
#include "rag/index_manager.h"
#include "rag/loaders.h"
#include "store/store.h"

namespace jrvs::rag {

struct IngestOptions {
  ChunkerOptions chunker;                // chunk size and overlap (bytes)
  size_t embed_batch = 64;               // texts per embedder call (>= 1)
  size_t max_content_bytes = 10u << 20;  // larger documents are refused (kPayloadTooLarge)
  size_t max_title_bytes = 1024;         // longer titles are cut on a code-point boundary
};

struct IngestDocument {
  std::string title;  // empty: derived from the URL or the first line
  std::string content;
  std::optional<std::string> url;
  std::string content_type = "text/plain";
  std::string metadata_json = "{}";
  std::vector<PageSpan> pages;  // optional (PDF pages); chunks then carry {"page": N}
};

struct IngestResult {
  int64_t document_id = 0;
  size_t chunks = 0;
  store::PutDocumentResult::Outcome outcome = store::PutDocumentResult::Outcome::kCreated;
};

class IngestPipeline {
 public:
  IngestPipeline(store::Store& store, Embedder& embedder, IndexManager& index,
                 IngestOptions options, MetricsRegistry* metrics = nullptr);

  // InvalidArgument for empty content or invalid metadata, PayloadTooLarge above the limit.
  Result<IngestResult> Ingest(const IngestDocument& doc);
  // Deletes a document; NotFound if absent.
  Status Delete(int64_t document_id);

  const IngestOptions& options() const { return options_; }

 private:
  store::Store& store_;
  Embedder& embedder_;
  IndexManager& index_;
  IngestOptions options_;
  Histogram* ingest_seconds_ = nullptr;
  Histogram* embed_seconds_ = nullptr;
  MetricFamily<Counter>* documents_total_ = nullptr;
  Counter* chunks_total_ = nullptr;
};

// "created", "updated" or "unchanged" (API and metrics label).
std::string_view OutcomeName(store::PutDocumentResult::Outcome outcome);

// The title to store: the given one (trimmed), else the last path segment of the URL, else the
// first non-empty line of the content, cut to `max_bytes`.
std::string DeriveTitle(const IngestDocument& doc, size_t max_bytes);

}  // namespace jrvs::rag
