#include "rag/ingest_pipeline.h"

#include <chrono>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/sha256.h"
#include "core/text.h"

namespace jrvs::rag {

namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// {"page": N} for the page holding most of [start, end), or "{}".
std::string ChunkMetadata(const std::vector<PageSpan>& pages, size_t start, size_t end) {
  int best_page = 0;
  size_t best_overlap = 0;
  for (const auto& p : pages) {
    size_t lo = std::max(start, p.start);
    size_t hi = std::min(end, p.end);
    if (hi > lo && hi - lo > best_overlap) {
      best_overlap = hi - lo;
      best_page = p.page;
    }
  }
  return best_page > 0 ? fmt::format("{{\"page\":{}}}", best_page) : "{}";
}

}  // namespace

std::string_view OutcomeName(store::PutDocumentResult::Outcome o) {
  switch (o) {
    case store::PutDocumentResult::Outcome::kCreated:
      return "created";
    case store::PutDocumentResult::Outcome::kUpdated:
      return "updated";
    case store::PutDocumentResult::Outcome::kUnchanged:
      return "unchanged";
  }
  return "unknown";
}

std::string DeriveTitle(const IngestDocument& doc, size_t max_bytes) {
  std::string_view title = text::TrimSpace(doc.title);
  std::string fallback;
  if (title.empty() && doc.url) {
    std::string_view url = *doc.url;
    auto q = url.find_first_of("?#");
    if (q != std::string_view::npos) url = url.substr(0, q);
    while (!url.empty() && url.back() == '/') url.remove_suffix(1);
    auto slash = url.rfind('/');
    fallback = std::string(slash == std::string_view::npos ? url : url.substr(slash + 1));
    title = fallback;
  }
  if (title.empty()) {
    std::string_view content = text::TrimSpace(doc.content);
    title = text::TrimSpace(content.substr(0, content.find('\n')));
  }
  if (title.empty()) title = "Untitled";
  return std::string(text::TruncateUtf8(title, max_bytes));
}

IngestPipeline::IngestPipeline(store::Store& store, Embedder& embedder, IndexManager& index,
                               IngestOptions options, MetricsRegistry* metrics)
    : store_(store), embedder_(embedder), index_(index), options_(std::move(options)) {
  if (options_.embed_batch == 0) options_.embed_batch = 1;
  if (metrics != nullptr) {
    ingest_seconds_ =
        &metrics->AddHistogram("ingest_duration_seconds", "Time to ingest one document end to end.")
             .Get();
    embed_seconds_ =
        &metrics->AddHistogram("embedding_duration_seconds", "Time of one embedder call.").Get();
    documents_total_ = &metrics->AddCounter("ingest_documents_total",
                                            "Documents ingested, by outcome.", {"outcome"});
    chunks_total_ = &metrics->AddCounter("ingest_chunks_total", "Chunks written.").Get();
  }
}

Result<IngestResult> IngestPipeline::Ingest(const IngestDocument& doc) {
  auto t0 = std::chrono::steady_clock::now();
  if (doc.content.size() > options_.max_content_bytes) {
    return Error(StatusCode::kPayloadTooLarge,
                 fmt::format("content is {} bytes; the limit is {}", doc.content.size(),
                             options_.max_content_bytes));
  }
  if (text::TrimSpace(doc.content).empty()) {
    return Error(StatusCode::kInvalidArgument, "content must not be empty");
  }
  if (!text::IsValidUtf8(doc.content)) {
    return Error(StatusCode::kInvalidArgument, "content must be valid UTF-8");
  }
  boost::system::error_code ec;
  auto meta = boost::json::parse(doc.metadata_json.empty() ? "{}" : doc.metadata_json, ec);
  if (ec || !meta.is_object()) {
    return Error(StatusCode::kInvalidArgument, "metadata must be a JSON object");
  }

  store::NewDocument record;
  record.url = doc.url;
  record.title = DeriveTitle(doc, options_.max_title_bytes);
  record.content = doc.content;
  record.content_type = doc.content_type;
  record.metadata_json = boost::json::serialize(meta);

  // The same content without a URL is a duplicate: skip before embedding anything.
  if (!doc.url) {
    auto existing = store_.FindDocumentByHash(Sha256Hex(doc.content));
    if (!existing) return Error(existing.error());
    if (*existing) {
      if (documents_total_ != nullptr) documents_total_->WithLabels({"unchanged"}).Inc();
      return IngestResult{**existing, 0, store::PutDocumentResult::Outcome::kUnchanged};
    }
  }

  std::vector<Chunk> pieces = ChunkText(doc.content, options_.chunker);
  std::vector<store::NewChunk> chunks(pieces.size());
  std::vector<float> flat;
  flat.reserve(pieces.size() * embedder_.dimension());
  for (size_t begin = 0; begin < pieces.size(); begin += options_.embed_batch) {
    size_t end = std::min(pieces.size(), begin + options_.embed_batch);
    std::vector<std::string> texts;
    texts.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) texts.push_back(pieces[i].text);
    auto e0 = std::chrono::steady_clock::now();
    auto vectors = embedder_.Embed(texts);
    if (embed_seconds_ != nullptr) embed_seconds_->Observe(SecondsSince(e0));
    if (!vectors) return Error(vectors.error());
    for (size_t i = begin; i < end; ++i) {
      auto& c = chunks[i];
      c.chunk_index = static_cast<int>(i);
      c.text = std::move(pieces[i].text);
      c.metadata_json = ChunkMetadata(doc.pages, pieces[i].start, pieces[i].end);
      c.embedding = std::move((*vectors)[i - begin]);
      flat.insert(flat.end(), c.embedding.begin(), c.embedding.end());
    }
  }

  auto ticket = index_.BeginWrite();
  auto put = store_.PutDocument(record, chunks, embedder_.model());
  if (!put) return Error(put.error());
  if (put->outcome != store::PutDocumentResult::Outcome::kUnchanged) {
    if (auto s = index_.RemoveChunks(ticket, put->removed_chunk_ids); !s.ok()) return Error(s);
    if (put->chunk_ids.size() == chunks.size()) {
      if (auto s = index_.AddChunks(ticket, put->chunk_ids, flat); !s.ok()) return Error(s);
    }
  }
  if (documents_total_ != nullptr) documents_total_->WithLabels({OutcomeName(put->outcome)}).Inc();
  if (chunks_total_ != nullptr && put->outcome != store::PutDocumentResult::Outcome::kUnchanged) {
    chunks_total_->Inc(static_cast<double>(chunks.size()));
  }
  if (ingest_seconds_ != nullptr) ingest_seconds_->Observe(SecondsSince(t0));
  return IngestResult{put->id, put->chunk_ids.size(), put->outcome};
}

Status IngestPipeline::Delete(int64_t document_id) {
  auto ticket = index_.BeginWrite();
  auto removed = store_.DeleteDocument(document_id);
  if (!removed) return removed.error();
  return index_.RemoveChunks(ticket, *removed);
}

}  // namespace jrvs::rag
