// One HTTP exchange for CurlFetcher: a GET to an address the SSRF guard already checked, on
// the calling thread's reused libcurl handle, with no redirect following. Internal to the
// scrape layer (curl_fetcher.cc); libcurl stays out of this header.
//
// The connection is pinned to `target.addresses` three ways: CURLOPT_RESOLVE for names, an
// open-socket callback that refuses any other address, and a check of the connected address
// after the transfer (a reused connection). A refused address gives kBlocked.
//
// For a 2xx answer the body is capped at `max_bytes` (from Content-Length up front, then as
// decoded bytes arrive) and, unless `accept_any_type`, the transfer is aborted as soon as the
// header names a type outside the accepted set. Bodies of other statuses are read up to 64 KiB
// and otherwise dropped; they are never an error.
//
// Thread safety: RunTransfer() may be called from any thread; each thread uses its own handle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scrape/fetcher.h"
#include "scrape/ssrf_guard.h"

namespace jrvs::scrape {

struct TransferRequest {
  const CheckedUrl* target = nullptr;
  std::vector<std::string> headers;  // extra request header lines ("If-None-Match: x")
  size_t max_bytes = 5u << 20;
  bool accept_any_type = false;
  bool accept_xml = false;  // also application/xml and text/xml (sitemaps)
  int connect_timeout_ms = 5000;
  int timeout_ms = 15000;  // this exchange, ms
  std::string user_agent;
  // Identifies the fetcher: a thread's handle (and its connections) is reused only by the
  // fetcher that created it, so one fetcher never inherits another's connections.
  uint64_t owner_id = 0;
};

struct TransferResult {
  FetchError error = FetchError::kNone;
  std::string message;
  int status = 0;
  std::string content_type;  // the header as sent ("text/html; charset=utf-8")
  std::string location;
  std::string etag;
  std::string last_modified;
  std::string body;
  double elapsed_ms = 0;
};

TransferResult RunTransfer(const TransferRequest& request);

// "Text/HTML; charset=x" -> "text/html".
std::string MediaType(std::string_view content_type);

// text/html, application/xhtml+xml, text/plain, application/pdf.
bool IsAcceptedType(std::string_view media_type, bool accept_xml = false);

// A media type for a body sent without Content-Type: "application/pdf" for "%PDF-",
// "text/html" for markup, "text/plain" for valid UTF-8, else "".
std::string SniffMediaType(std::string_view body);

}  // namespace jrvs::scrape
