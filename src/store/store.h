// Store: the persistence seam (DESIGN.md §4). The database is the source of truth.
//
// Every method is safe to call concurrently from any thread. A write that returns OK is durable
// across a crash of the process (kill -9). Timestamps are milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jrvs::store {

struct NewConversation {
  std::string session_id;
  std::string user_message;
  std::string ai_response;
  std::string model_used;
  std::string context_used;         // the context text given to the model ("" if none)
  std::string sources_json = "[]";  // JSON array of cited sources
  double latency_ms = 0;
  int64_t created_at_ms = 0;  // 0: the store stamps the current time
};

struct Conversation {
  int64_t id = 0;
  std::string session_id;
  std::string user_message;
  std::string ai_response;
  std::string model_used;
  std::string context_used;
  std::string sources_json;
  int64_t created_at_ms = 0;
  double latency_ms = 0;
};

struct NewDocument {
  std::optional<std::string> url;  // unique when present: same URL again updates the document
  std::string title;
  std::string content;
  std::string content_type = "text/plain";
  std::string metadata_json = "{}";  // JSON object
};

// A chunk of a document to store with it. `embedding` may be empty (no vector yet).
struct NewChunk {
  int chunk_index = 0;
  std::string text;
  std::vector<float> embedding;
  std::string metadata_json = "{}";  // JSON object, e.g. {"page": 3}
};

struct Document {
  int64_t id = 0;
  std::optional<std::string> url;
  std::string title;
  std::string content;
  std::string content_type;
  std::string content_hash;  // hex SHA-256 of content
  std::string metadata_json;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t last_accessed_ms = 0;
};

// A document without its content, for listings.
struct DocumentSummary {
  int64_t id = 0;
  std::optional<std::string> url;
  std::string title;
  std::string content_type;
  int64_t content_length = 0;
  int64_t chunk_count = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct PutDocumentResult {
  int64_t id = 0;
  enum class Outcome { kCreated, kUpdated, kUnchanged } outcome = Outcome::kCreated;
  std::vector<int64_t> chunk_ids;          // ids of the chunks now stored, in chunk_index order
  std::vector<int64_t> removed_chunk_ids;  // ids of chunks an update replaced
};

// A stored chunk joined with its document's title and URL.
struct ChunkView {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
  int chunk_index = 0;
  std::string text;
  std::string title;
  std::optional<std::string> url;
  std::string metadata_json;
};

// One full-text match: higher score is better (the negated FTS5 bm25()).
struct TextHit {
  int64_t chunk_id = 0;
  double score = 0;
};

// One document-level full-text match (title and content), higher score is better.
struct DocumentTextHit {
  int64_t document_id = 0;
  double score = 0;
};

// What a search result shows of a document: its title, URL and the words around the first
// matches of the query.
struct DocumentPreview {
  int64_t document_id = 0;
  std::string title;
  std::optional<std::string> url;
  std::string snippet;  // about `max_tokens` words around the matches, "..." where cut
};

// A chunk and the document it belongs to.
struct ChunkRef {
  int64_t chunk_id = 0;
  int64_t document_id = 0;
};

// One row of the models table.
struct ModelUsage {
  std::string name;
  int64_t usage_count = 0;
  double avg_response_ms = 0;
  int64_t last_used_ms = 0;
};

struct StoreStats {
  int64_t documents = 0;
  int64_t chunks = 0;
  int64_t conversations = 0;
  int64_t sessions = 0;
  int64_t database_bytes = 0;  // main file plus WAL
};

class Store {
 public:
  virtual ~Store() = default;

  // Conversations.
  virtual Result<int64_t> AppendConversation(const NewConversation& turn) = 0;
  // The newest `limit` turns of a session, returned oldest first (newest last). limit <= 0: all.
  virtual Result<std::vector<Conversation>> ListConversations(std::string_view session_id,
                                                              int limit) = 0;
  // Deletes every turn of the session; returns how many were deleted.
  virtual Result<int64_t> DeleteSession(std::string_view session_id) = 0;
  // Retention: deletes turns created before `cutoff_ms`; returns how many.
  virtual Result<int64_t> DeleteConversationsBefore(int64_t cutoff_ms) = 0;

  // Documents. PutDocument creates the document, or updates the one with the same URL; when the
  // URL (or, for a document without URL, the content hash) matches a stored document whose content
  // hash is unchanged, it reports kUnchanged and writes nothing. The document, its chunks, their
  // embeddings and full-text rows are written in one transaction; an update replaces the chunks.
  virtual Result<PutDocumentResult> PutDocument(const NewDocument& doc,
                                                const std::vector<NewChunk>& chunks,
                                                std::string_view embedding_model) = 0;
  // The id of a stored document with exactly this content hash, if any.
  virtual Result<std::optional<int64_t>> FindDocumentByHash(std::string_view content_hash) = 0;
  virtual Result<Document> GetDocument(int64_t id) = 0;
  // Newest first.
  virtual Result<std::vector<DocumentSummary>> ListDocuments(int limit, int offset) = 0;
  // Deletes the document, its chunks and their full-text rows; returns the deleted chunk ids.
  // NotFound if absent.
  virtual Result<std::vector<int64_t>> DeleteDocument(int64_t id) = 0;

  // Chunks.
  virtual Result<std::vector<ChunkView>> GetChunks(const std::vector<int64_t>& chunk_ids) = 0;
  // BM25 search over chunk text (porter stemming): chunks matching any of `terms`, best first.
  // Terms are plain words; the store quotes them, so no FTS5 syntax leaks through.
  virtual Result<std::vector<TextHit>> SearchText(const std::vector<std::string>& terms,
                                                  int limit) = 0;
  // BM25 over whole documents (title and content, porter stemming; title matches weigh
  // `title_weight` times a content match): documents matching any of `terms`, best first.
  virtual Result<std::vector<DocumentTextHit>> SearchDocumentsText(
      const std::vector<std::string>& terms, int limit, double title_weight) = 0;
  // Title, URL and a snippet around the matches of `terms` (words, as for SearchDocumentsText;
  // no match: the document's first words) of each document in `ids`, in that order; ids of
  // documents that do not exist are skipped.
  virtual Result<std::vector<DocumentPreview>> GetDocumentPreviews(
      const std::vector<int64_t>& ids, const std::vector<std::string>& terms,
      size_t max_tokens) = 0;
  // The document of each chunk in `chunk_ids`, in that order; chunks that do not exist are
  // skipped.
  virtual Result<std::vector<ChunkRef>> ChunkDocumentIds(const std::vector<int64_t>& chunk_ids) = 0;
  // The chunks of each document in `document_ids`: grouped by document in that order, each
  // document's in id order; a document that does not exist gives none.
  virtual Result<std::vector<ChunkRef>> DocumentChunkIds(
      const std::vector<int64_t>& document_ids) = 0;
  // Calls fn for each chunk with id > after_id, in id order, with its embedding model and vector
  // (empty if none). Used to rebuild or catch up the vector index. Stops early if fn returns false.
  virtual Status ForEachChunkEmbedding(
      int64_t after_id, const std::function<bool(int64_t chunk_id, std::string_view model,
                                                 const std::vector<float>& embedding)>& fn) = 0;
  // Calls fn for each chunk with id > after_id whose embedding model is not `model` (or that has
  // no embedding), in id order, with its text. Used by `jrvs reindex` to re-embed stale chunks.
  virtual Status ForEachStaleChunk(
      int64_t after_id, std::string_view model,
      const std::function<bool(int64_t chunk_id, std::string_view text)>& fn) = 0;
  // Replaces the embeddings of the given chunks (one transaction); missing ids are ignored.
  virtual Status UpdateChunkEmbeddings(const std::vector<int64_t>& chunk_ids,
                                       const std::vector<std::vector<float>>& embeddings,
                                       std::string_view model) = 0;
  // The highest chunk id stored (0 if none).
  virtual Result<int64_t> MaxChunkId() = 0;

  // Models: counts one response of `model` taking `response_ms` (running average).
  virtual Status RecordModelUsage(std::string_view model, double response_ms) = 0;
  // Every model used so far, most used first.
  virtual Result<std::vector<ModelUsage>> ListModelUsage() = 0;

  virtual Result<StoreStats> Stats() = 0;
  // Cheap liveness check of the database (a trivial query on a reader connection).
  virtual Status Ping() = 0;
};

}  // namespace jrvs::store
