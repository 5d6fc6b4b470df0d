// Handlers for the knowledge base: POST /api/rag/document, POST /api/rag/retrieve,
// GET /api/search, GET /api/documents[/{id}], DELETE /api/documents/{id},
// POST /api/documents/upload. Pure Request -> Response over the rag components; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "api/http_types.h"
#include "rag/ingest_pipeline.h"
#include "rag/retriever.h"
#include "store/store.h"

namespace jrvs::api {

struct KnowledgeApiOptions {
  size_t search_default_limit = 5;  // /api/search without ?limit=
  size_t search_max_limit = 50;     // largest ?limit=
  size_t retrieve_default_k = 5;    // /api/rag/retrieve without k
  size_t retrieve_max_k = 50;
  size_t context_budget_bytes = 4000;   // RAG context size
  size_t documents_default_limit = 20;  // GET /api/documents page size
  size_t documents_max_limit = 200;
  size_t max_upload_files = 64;  // files in one multipart upload
};

class KnowledgeApi {
 public:
  KnowledgeApi(store::Store& store, rag::IngestPipeline& ingest,
               const rag::HybridRetriever& retriever, KnowledgeApiOptions options);

  Response AddDocument(const Request& request) const;
  Response Retrieve(const Request& request) const;
  Response Search(const Request& request) const;
  Response ListDocuments(const Request& request) const;
  Response GetDocument(const Request& request) const;
  Response DeleteDocument(const Request& request) const;
  Response Upload(const Request& request) const;

 private:
  store::Store& store_;
  rag::IngestPipeline& ingest_;
  const rag::HybridRetriever& retriever_;
  KnowledgeApiOptions options_;
};

}  // namespace jrvs::api
