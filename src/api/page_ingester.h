// PageIngester: the page sink that connects the crawler (scrape/) to the knowledge base (rag/,
// store/). scrape/ sits below rag/ and cannot ingest or load PDFs; this adapter, in the first
// layer that sees both, turns a scrape::CrawledPage into an ingested document and answers the
// crawler's "what do we remember about this URL" question from the store.
//
// Stored document: url = the canonical URL that was requested (so a re-crawl finds it again
// even when the site redirects), title = the page's title (else derived from the URL), content
// = the extracted main text (HTML), the body (text/plain) or the PDF's text (rag::LoadBytes,
// one PageSpan per page), content_type = the fetched media type. Metadata (JSON object):
//   {"source":"web", "final_url", "http_status", "fetched_content_type", "charset", "etag",
//    "last_modified", "depth", "links":[outbound links, at most kMaxStoredLinks],
//    plus description, author, lang, canonical_url, published_time, og (HTML) or the PDF
//    loader's fields}
// etag, last_modified and links are what the next crawl sends and follows (crawler.h
// "Re-crawl"). The same content again is reported unchanged by the ingest pipeline (no
// embedding work); metadata is then not rewritten, which only means an older validator is sent
// next time.
//
// Prior lookups: Store has no lookup by URL, so MakePriorLookup() lists the stored documents
// once (URL -> id, paged, summaries only) when a crawl starts and reads one document per URL
// the crawl asks about. Documents added after that snapshot are simply unknown to that crawl.
//
// Thread safety: all methods are const and may be called concurrently (the store and ingest
// pipeline are thread-safe); a PriorLookup from MakePriorLookup() is thread-safe too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "rag/ingest_pipeline.h"
#include "scrape/crawler.h"
#include "store/store.h"

namespace jrvs::api {

// Outbound links kept in a document's metadata for re-crawls (more are dropped).
inline constexpr size_t kMaxStoredLinks = 500;

struct IngestedPage {
  int64_t document_id = 0;
  std::string title;
  size_t chars = 0;  // code points of the stored content
  store::PutDocumentResult::Outcome outcome = store::PutDocumentResult::Outcome::kCreated;
};

class PageIngester {
 public:
  // Both must outlive the ingester.
  PageIngester(store::Store& store, rag::IngestPipeline& ingest);

  // Stores one fetched page (page.fetch must be ok()). InvalidArgument for a page without text
  // or a corrupt PDF; PayloadTooLarge over the ingest limit; store errors as they come.
  Result<IngestedPage> Ingest(const scrape::CrawledPage& page) const;

  // Ingest() shaped as a crawler sink.
  scrape::SinkResult Sink(const scrape::CrawledPage& page) const;

  // A lookup of what the store remembers per canonical URL (see the file comment).
  scrape::PriorLookup MakePriorLookup() const;

 private:
  store::Store& store_;
  rag::IngestPipeline& ingest_;
};

}  // namespace jrvs::api
