#include "api/page_ingester.h"

#include <memory>
#include <unordered_map>

#include <boost/json.hpp>

#include "rag/loaders.h"

namespace jrvs::api {

namespace json = boost::json;

namespace {

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

json::object ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

std::string StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

// The file name rag::LoadBytes sees for a fetched PDF: it picks the loader by extension.
std::string PdfFileName(const std::string& url) {
  std::string_view path = url;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  std::string_view name = path.substr(path.rfind('/') + 1);
  std::string out = name.empty() ? std::string("document") : std::string(name);
  if (out.size() < 4 || out.compare(out.size() - 4, 4, ".pdf") != 0) out += ".pdf";
  return out;
}

void AddPageMetadata(const scrape::PageMetadata& m, json::object& meta) {
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) meta[key] = value;
  };
  put("description", m.description);
  put("author", m.author);
  put("lang", m.lang);
  put("canonical_url", m.canonical_url);
  put("published_time", m.published_time);
  if (!m.og.empty()) {
    json::object og;
    for (const auto& [k, v] : m.og) og[k] = v;
    meta["og"] = std::move(og);
  }
}

}  // namespace

PageIngester::PageIngester(store::Store& store, rag::IngestPipeline& ingest)
    : store_(store), ingest_(ingest) {}

Result<IngestedPage> PageIngester::Ingest(const scrape::CrawledPage& page) const {
  const scrape::FetchResult& f = page.fetch;
  rag::IngestDocument doc;
  doc.url = page.url;
  json::object meta;
  if (f.content_type == "application/pdf") {
    auto loaded = rag::LoadBytes(f.body, PdfFileName(page.final_url));
    if (!loaded) return Error(loaded.error());
    doc.title = std::move(loaded->title);
    doc.content = std::move(loaded->content);
    doc.pages = std::move(loaded->pages);
    meta = ParseObject(loaded->metadata_json);
    doc.content_type = "application/pdf";
  } else {
    doc.title = page.page.title;
    doc.content = page.page.text;
    doc.content_type = f.content_type.empty() ? std::string("text/plain") : f.content_type;
    AddPageMetadata(page.page.metadata, meta);
  }
  if (doc.content.empty()) {
    return Error(StatusCode::kInvalidArgument, "the page has no text to store");
  }
  meta["source"] = "web";
  meta["final_url"] = page.final_url;
  meta["http_status"] = f.http_status;
  meta["fetched_content_type"] = f.content_type;
  if (!f.charset.empty()) meta["charset"] = f.charset;
  if (!f.etag.empty()) meta["etag"] = f.etag;
  if (!f.last_modified.empty()) meta["last_modified"] = f.last_modified;
  meta["depth"] = page.depth;
  json::array links;
  for (const auto& l : page.page.links) {
    if (links.size() >= kMaxStoredLinks) break;
    links.push_back(json::value(l));
  }
  meta["links"] = std::move(links);
  doc.metadata_json = json::serialize(meta);

  auto result = ingest_.Ingest(doc);
  if (!result) return Error(result.error());
  IngestedPage out;
  out.document_id = result->document_id;
  out.title = rag::DeriveTitle(doc, ingest_.options().max_title_bytes);
  out.chars = CodePoints(doc.content);
  out.outcome = result->outcome;
  return out;
}

scrape::SinkResult PageIngester::Sink(const scrape::CrawledPage& page) const {
  scrape::SinkResult r;
  auto ingested = Ingest(page);
  if (!ingested) {
    r.status = scrape::PageStatus::kFailed;
    r.error = std::string(StatusCodeName(ingested.error().code()))
                  .append(": ")
                  .append(ingested.error().message());
    return r;
  }
  r.document_id = ingested->document_id;
  r.title = std::move(ingested->title);
  switch (ingested->outcome) {
    case store::PutDocumentResult::Outcome::kCreated:
      r.status = scrape::PageStatus::kAdded;
      break;
    case store::PutDocumentResult::Outcome::kUpdated:
      r.status = scrape::PageStatus::kUpdated;
      break;
    case store::PutDocumentResult::Outcome::kUnchanged:
      r.status = scrape::PageStatus::kUnchanged;
      break;
  }
  return r;
}

scrape::PriorLookup PageIngester::MakePriorLookup() const {
  // URL -> document id of every stored document with a URL, read once, in pages.
  auto ids = std::make_shared<std::unordered_map<std::string, int64_t>>();
  constexpr int kPage = 1000;
  for (int offset = 0;; offset += kPage) {
    auto docs = store_.ListDocuments(kPage, offset);
    if (!docs) break;  // no memory of earlier crawls: every page is fetched in full
    for (const auto& d : *docs) {
      if (d.url) ids->emplace(*d.url, d.id);
    }
    if (docs->size() < static_cast<size_t>(kPage)) break;
  }
  store::Store* store = &store_;
  return [ids, store](const std::string& url) -> std::optional<scrape::PriorPage> {
    auto it = ids->find(url);
    if (it == ids->end()) return std::nullopt;
    auto doc = store->GetDocument(it->second);
    if (!doc) return std::nullopt;
    json::object meta = ParseObject(doc->metadata_json);
    scrape::PriorPage prior;
    prior.document_id = doc->id;
    prior.title = doc->title;
    prior.content_hash = doc->content_hash;
    prior.etag = StringField(meta, "etag");
    prior.last_modified = StringField(meta, "last_modified");
    if (auto links = meta.find("links"); links != meta.end() && links->value().is_array()) {
      for (const auto& l : links->value().as_array()) {
        if (l.is_string()) prior.links.emplace_back(l.as_string());
      }
    }
    return prior;
  };
}

}  // namespace jrvs::api
