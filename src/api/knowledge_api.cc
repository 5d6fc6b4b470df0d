#include "api/knowledge_api.h"

#include <charconv>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "api/json_body.h"
#include "api/multipart.h"
#include "api/system_api.h"
#include "rag/loaders.h"

namespace jrvs::api {

namespace json = boost::json;

namespace {

json::value UrlValue(const std::optional<std::string>& url) {
  return url ? json::value(*url) : json::value(nullptr);
}

json::value ParseOr(std::string_view text, json::value fallback) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? fallback : v;
}

Result<int64_t> DocumentIdParam(const Request& request) {
  std::string_view raw = request.PathParam("id");
  int64_t id = 0;
  auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (raw.empty() || ec != std::errc() || ptr != raw.data() + raw.size() || id <= 0) {
    return Error(StatusCode::kInvalidArgument, "document id must be a positive integer");
  }
  return id;
}

Result<std::optional<rag::SearchMode>> ModeParam(std::optional<std::string_view> raw) {
  if (!raw || raw->empty()) return std::optional<rag::SearchMode>();
  auto mode = rag::ParseSearchMode(*raw);
  if (!mode) {
    return Error(StatusCode::kInvalidArgument, "'mode' must be hybrid, lexical or vector");
  }
  return std::optional<rag::SearchMode>(*mode);
}

json::object ChunkJson(const rag::RetrievedChunk& c) {
  return json::object{
      {"chunk_id", c.chunk_id},
      {"document_id", c.document_id},
      {"chunk_index", c.chunk_index},
      {"title", c.title},
      {"url", UrlValue(c.url)},
      {"text", c.text},
      {"score", c.score},
      {"lexical_score", c.lexical_score},
      {"vector_score", c.vector_score},
      {"metadata", ParseOr(c.metadata_json, json::object())},
  };
}

json::object TimingsJson(const rag::RetrievalTimings& t, double total_ms) {
  return json::object{{"embed_ms", t.embed_ms},
                      {"vector_ms", t.vector_ms},
                      {"lexical_ms", t.lexical_ms},
                      {"fetch_ms", t.fetch_ms},
                      {"total_ms", total_ms}};
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

KnowledgeApi::KnowledgeApi(store::Store& store, rag::IngestPipeline& ingest,
                           const rag::HybridRetriever& retriever, KnowledgeApiOptions options)
    : store_(store), ingest_(ingest), retriever_(retriever), options_(options) {}

Response KnowledgeApi::AddDocument(const Request& request) const {
  const std::string& rid = request.request_id;
  auto body = JsonBody::Parse(request.body);
  if (!body) return ErrorResponse(body.error(), rid);
  auto content = body->String("content");
  if (!content) return ErrorResponse(content.error(), rid);
  if (!*content) return ErrorResponse(StatusCode::kInvalidArgument, "'content' is required", rid);
  auto title = body->String("title");
  if (!title) return ErrorResponse(title.error(), rid);
  auto url = body->String("url");
  if (!url) return ErrorResponse(url.error(), rid);
  auto metadata = body->ObjectText("metadata");
  if (!metadata) return ErrorResponse(metadata.error(), rid);
  auto content_type = body->String("content_type");
  if (!content_type) return ErrorResponse(content_type.error(), rid);

  rag::IngestDocument doc;
  doc.content = std::move(**content);
  doc.title = title->value_or("");
  if (*url && !(*url)->empty()) doc.url = std::move(**url);
  doc.metadata_json = std::move(*metadata);
  doc.content_type = content_type->value_or("text/plain");
  auto result = ingest_.Ingest(doc);
  if (!result) return ErrorResponse(result.error(), rid);
  bool created = result->outcome == store::PutDocumentResult::Outcome::kCreated;
  json::object root{{"success", true},
                    {"document_id", result->document_id},
                    {"chunks", static_cast<int64_t>(result->chunks)},
                    {"status", rag::OutcomeName(result->outcome)}};
  return JsonResponse(json::serialize(root), created ? 201 : 200);
}

Response KnowledgeApi::Retrieve(const Request& request) const {
  auto t0 = std::chrono::steady_clock::now();
  const std::string& rid = request.request_id;
  auto body = JsonBody::Parse(request.body);
  if (!body) return ErrorResponse(body.error(), rid);
  auto query = body->String("query");
  if (!query) return ErrorResponse(query.error(), rid);
  if (!*query || (*query)->empty()) {
    return ErrorResponse(StatusCode::kInvalidArgument, "'query' is required", rid);
  }
  auto k = body->Int("k");
  if (!k) return ErrorResponse(k.error(), rid);
  int64_t want = k->value_or(static_cast<int64_t>(options_.retrieve_default_k));
  if (want < 1 || want > static_cast<int64_t>(options_.retrieve_max_k)) {
    return ErrorResponse(StatusCode::kInvalidArgument,
                         fmt::format("'k' must be between 1 and {}", options_.retrieve_max_k), rid);
  }
  auto mode_text = body->String("mode");
  if (!mode_text) return ErrorResponse(mode_text.error(), rid);
  auto mode = ModeParam(*mode_text ? std::optional<std::string_view>(**mode_text) : std::nullopt);
  if (!mode) return ErrorResponse(mode.error(), rid);

  rag::RetrievalTimings timings;
  auto chunks = retriever_.Retrieve(**query, static_cast<size_t>(want), *mode, &timings);
  if (!chunks) return ErrorResponse(chunks.error(), rid);
  rag::BuiltContext context = rag::BuildContext(*chunks, options_.context_budget_bytes);
  json::array chunk_list;
  for (const auto& c : *chunks) chunk_list.push_back(ChunkJson(c));
  json::array citations;
  for (const auto& c : context.citations) {
    citations.push_back(json::object{{"n", c.n},
                                     {"document_id", c.document_id},
                                     {"title", c.title},
                                     {"url", UrlValue(c.url)},
                                     {"score", c.score}});
  }
  json::object root{{"query", **query},
                    {"context", context.text},
                    {"chunks", std::move(chunk_list)},
                    {"sources", std::move(citations)},
                    {"count", static_cast<int64_t>(chunks->size())},
                    {"timings", TimingsJson(timings, MsSince(t0))}};
  return JsonResponse(json::serialize(root));
}

Response KnowledgeApi::Search(const Request& request) const {
  auto t0 = std::chrono::steady_clock::now();
  const std::string& rid = request.request_id;
  auto query = request.QueryParam("query");
  if (!query) query = request.QueryParam("q");
  if (!query || query->empty()) {
    return ErrorResponse(StatusCode::kInvalidArgument, "'query' (or 'q') is required", rid);
  }
  auto limit = IntQueryParam(request, "limit", static_cast<int64_t>(options_.search_default_limit),
                             1, static_cast<int64_t>(options_.search_max_limit));
  if (!limit) return ErrorResponse(limit.error(), rid);
  auto mode = ModeParam(request.QueryParam("mode"));
  if (!mode) return ErrorResponse(mode.error(), rid);

  rag::RetrievalTimings timings;
  auto hits = retriever_.SearchDocuments(*query, static_cast<size_t>(*limit), *mode, &timings);
  if (!hits) return ErrorResponse(hits.error(), rid);
  json::array results;
  for (const auto& h : *hits) {
    results.push_back(json::object{{"document_id", h.document_id},
                                   {"title", h.title},
                                   {"url", UrlValue(h.url)},
                                   {"similarity", h.similarity},
                                   {"score", h.score},
                                   {"preview", h.preview},
                                   {"chunk_index", h.chunk_index}});
  }
  json::object root{{"query", *query},
                    {"results", std::move(results)},
                    {"count", static_cast<int64_t>(hits->size())},
                    {"timings", TimingsJson(timings, MsSince(t0))}};
  return JsonResponse(json::serialize(root));
}

Response KnowledgeApi::ListDocuments(const Request& request) const {
  const std::string& rid = request.request_id;
  auto limit =
      IntQueryParam(request, "limit", static_cast<int64_t>(options_.documents_default_limit), 1,
                    static_cast<int64_t>(options_.documents_max_limit));
  if (!limit) return ErrorResponse(limit.error(), rid);
  auto offset = IntQueryParam(request, "offset", 0, 0, INT32_MAX);
  if (!offset) return ErrorResponse(offset.error(), rid);
  auto docs = store_.ListDocuments(static_cast<int>(*limit), static_cast<int>(*offset));
  if (!docs) return ErrorResponse(docs.error(), rid);
  auto stats = store_.Stats();
  if (!stats) return ErrorResponse(stats.error(), rid);
  json::array list;
  for (const auto& d : *docs) {
    list.push_back(json::object{{"document_id", d.id},
                                {"id", d.id},
                                {"title", d.title},
                                {"url", UrlValue(d.url)},
                                {"content_type", d.content_type},
                                {"content_length", d.content_length},
                                {"chunks", d.chunk_count},
                                {"created_at_ms", d.created_at_ms},
                                {"updated_at_ms", d.updated_at_ms}});
  }
  json::object root{{"documents", std::move(list)},
                    {"limit", *limit},
                    {"offset", *offset},
                    {"total", stats->documents}};
  return JsonResponse(json::serialize(root));
}

Response KnowledgeApi::GetDocument(const Request& request) const {
  const std::string& rid = request.request_id;
  auto id = DocumentIdParam(request);
  if (!id) return ErrorResponse(id.error(), rid);
  auto doc = store_.GetDocument(*id);
  if (!doc) return ErrorResponse(doc.error(), rid);
  json::object root{{"document_id", doc->id},
                    {"id", doc->id},
                    {"title", doc->title},
                    {"url", UrlValue(doc->url)},
                    {"content", doc->content},
                    {"content_type", doc->content_type},
                    {"content_hash", doc->content_hash},
                    {"metadata", ParseOr(doc->metadata_json, json::object())},
                    {"created_at_ms", doc->created_at_ms},
                    {"updated_at_ms", doc->updated_at_ms}};
  return JsonResponse(json::serialize(root));
}

Response KnowledgeApi::DeleteDocument(const Request& request) const {
  const std::string& rid = request.request_id;
  auto id = DocumentIdParam(request);
  if (!id) return ErrorResponse(id.error(), rid);
  Status s = ingest_.Delete(*id);
  if (!s.ok()) return ErrorResponse(s, rid);
  json::object root{{"success", true}, {"deleted", true}, {"document_id", *id}};
  return JsonResponse(json::serialize(root));
}

Response KnowledgeApi::Upload(const Request& request) const {
  const std::string& rid = request.request_id;
  auto boundary = MultipartBoundary(request.Header("content-type").value_or(""));
  if (!boundary) return ErrorResponse(boundary.error(), rid);
  auto parts = ParseMultipart(request.body, *boundary);
  if (!parts) return ErrorResponse(parts.error(), rid);
  size_t files = 0;
  for (const auto& p : *parts) files += p.filename.empty() ? 0 : 1;
  if (files == 0) {
    return ErrorResponse(StatusCode::kInvalidArgument, "no file parts in the upload", rid);
  }
  if (files > options_.max_upload_files) {
    return ErrorResponse(StatusCode::kInvalidArgument,
                         fmt::format("at most {} files per upload", options_.max_upload_files),
                         rid);
  }
  json::array results;
  int64_t added = 0, failed = 0;
  for (const auto& part : *parts) {
    if (part.filename.empty()) continue;
    json::object item{{"filename", part.filename}};
    auto loaded = rag::LoadBytes(part.data, part.filename);
    Status status;
    if (loaded) {
      rag::IngestDocument doc;
      doc.title = std::move(loaded->title);
      doc.content = std::move(loaded->content);
      doc.content_type = std::move(loaded->content_type);
      doc.metadata_json = std::move(loaded->metadata_json);
      doc.pages = std::move(loaded->pages);
      auto result = ingest_.Ingest(doc);
      if (result) {
        item["success"] = true;
        item["document_id"] = result->document_id;
        item["chunks"] = static_cast<int64_t>(result->chunks);
        item["status"] = rag::OutcomeName(result->outcome);
        ++added;
      } else {
        status = result.error();
      }
    } else {
      status = loaded.error();
    }
    if (!status.ok()) {
      item["success"] = false;
      item["error"] =
          json::object{{"code", StatusCodeName(status.code())}, {"message", status.message()}};
      ++failed;
    }
    results.push_back(std::move(item));
  }
  json::object root{{"success", failed == 0},
                    {"files", std::move(results)},
                    {"added", added},
                    {"failed", failed}};
  // Some files may fail (unsupported type) while others are stored: 207-like, reported per file.
  return JsonResponse(json::serialize(root), added > 0 ? 201 : 400);
}

}  // namespace jrvs::api
