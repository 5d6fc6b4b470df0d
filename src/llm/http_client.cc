#include "llm/http_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>

#include <curl/curl.h>
#include <boost/json.hpp>

#include "core/text.h"

namespace jrvs::llm {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr size_t kMaxErrorBodyBytes = 64 * 1024;  // body kept from a >= 400 streamed response
constexpr int kCancelPollMs = 20;                 // how often a cancel flag is looked at

void EnsureCurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The URL without user:password@, for messages.
std::string RedactUrl(std::string_view url) {
  std::string out(url);
  auto scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  auto host_start = scheme + 3;
  auto path = out.find_first_of("/?#", host_start);
  auto at = out.rfind('@', path == std::string::npos ? out.size() : path);
  if (at != std::string::npos && at >= host_start) out.erase(host_start, at + 1 - host_start);
  return out;
}

// No proxy for loopback, plus whatever no_proxy the environment lists.
std::string NoProxyList() {
  std::string list = "localhost,127.0.0.1,::1";
  for (const char* name : {"no_proxy", "NO_PROXY"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
      list += ",";
      list += v;
      break;
    }
  }
  return list;
}

// State of one call, shared with libcurl's callbacks.
struct Transfer {
  const HttpClientOptions* options = nullptr;
  SteadyClock::time_point start;
  SteadyClock::time_point last_rx;
  bool got_byte = false;
  int status = 0;
  HttpHeaders headers;

  // Buffered mode (Get / PostJson).
  std::string* body = nullptr;
  // Streaming mode (PostStream).
  const HttpClient::LineCallback* on_line = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  std::string pending;     // an incomplete line
  std::string error_body;  // body of a >= 400 response
  bool callback_stopped = false;
  bool cancelled = false;
  bool too_large = false;

  void NoteBytes() {
    last_rx = SteadyClock::now();
    got_byte = true;
  }
};

size_t HeaderCallback(char* data, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nitems;
  t->NoteBytes();
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new response (after 100 Continue, say): start over.
    t->headers.clear();
    auto sp = line.find(' ');
    if (sp != std::string_view::npos)
      t->status = std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    return n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->headers.emplace_back(text::AsciiLower(text::TrimAscii(line.substr(0, colon))),
                            std::string(text::TrimAscii(line.substr(colon + 1))));
  }
  return n;
}

size_t BufferedWriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  t->NoteBytes();
  if (t->body->size() + n > t->options->max_response_bytes) {
    t->too_large = true;
    return 0;  // aborts with CURLE_WRITE_ERROR
  }
  t->body->append(data, n);
  return n;
}

// Delivers one line without its "\r"; false to stop.
bool Deliver(Transfer* t, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!(*t->on_line)(line)) {
    t->callback_stopped = true;
    return false;
  }
  return true;
}

size_t StreamWriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  t->NoteBytes();
  if (t->cancel != nullptr && t->cancel->load(std::memory_order_relaxed)) {
    t->cancelled = true;
    return 0;
  }
  if (t->status >= 400) {
    size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, t->error_body.size());
    t->error_body.append(data, std::min(room, n));
    return n;
  }
  std::string_view chunk(data, n);
  size_t pos = 0;
  while (pos < chunk.size()) {
    size_t nl = chunk.find('\n', pos);
    if (nl == std::string_view::npos) break;
    if (t->pending.size() + (nl - pos) > t->options->max_response_bytes) {
      t->too_large = true;
      return 0;
    }
    bool ok;
    if (t->pending.empty()) {
      ok = Deliver(t, chunk.substr(pos, nl - pos));
    } else {
      t->pending.append(chunk.substr(pos, nl - pos));
      ok = Deliver(t, t->pending);
      t->pending.clear();
    }
    if (!ok) return 0;
    pos = nl + 1;
    if (t->cancel != nullptr && t->cancel->load(std::memory_order_relaxed)) {
      t->cancelled = true;
      return 0;
    }
  }
  if (pos < chunk.size()) {
    if (t->pending.size() + (chunk.size() - pos) > t->options->max_response_bytes) {
      t->too_large = true;
      return 0;
    }
    t->pending.append(chunk.substr(pos));
  }
  return n;
}

Status TimeoutStatus(std::string_view which, int ms, const std::string& url) {
  return Status(StatusCode::kDeadlineExceeded,
                std::string(which) + " timeout (" + std::to_string(ms) + " ms) waiting for " + url);
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

Status HttpClientOptions::Validate() const {
  const HttpClientOptions& o = *this;
  auto positive = [](int v, const char* name) -> Status {
    if (v <= 0) {
      return Status(StatusCode::kInvalidArgument,
                    std::string(name) + " must be > 0 (got " + std::to_string(v) + ")");
    }
    return Status::Ok();
  };
  for (auto [v, name] : {std::pair{o.connect_timeout_ms, "connect_timeout_ms"},
                         std::pair{o.first_byte_timeout_ms, "first_byte_timeout_ms"},
                         std::pair{o.idle_gap_timeout_ms, "idle_gap_timeout_ms"},
                         std::pair{o.total_timeout_ms, "total_timeout_ms"}}) {
    if (Status s = positive(v, name); !s.ok()) return s;
  }
  if (o.max_response_bytes == 0) {
    return Status(StatusCode::kInvalidArgument, "max_response_bytes must be > 0");
  }
  return Status::Ok();
}

Status HttpErrorStatus(int status, std::string_view body, std::string_view what) {
  StatusCode code = StatusCode::kUnavailable;
  switch (status) {
    case 400:
    case 422:
      code = StatusCode::kInvalidArgument;
      break;
    case 401:
    case 403:
      code = StatusCode::kPermissionDenied;
      break;
    case 404:
      code = StatusCode::kNotFound;
      break;
    case 408:
    case 504:
      code = StatusCode::kDeadlineExceeded;
      break;
    case 413:
      code = StatusCode::kPayloadTooLarge;
      break;
    case 429:
      code = StatusCode::kResourceExhausted;
      break;
    default:
      break;
  }
  std::string detail;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.get_object().if_contains("error")) {
      if (e->is_string()) {
        detail = std::string(e->get_string());
      } else if (e->is_object()) {
        if (const auto* m = e->get_object().if_contains("message"); m && m->is_string()) {
          detail = std::string(m->get_string());
        }
      }
    }
  }
  if (detail.empty()) {
    std::string_view trimmed = text::TrimAscii(body);
    detail = std::string(trimmed.substr(0, 200));
  }
  std::string message = "HTTP " + std::to_string(status) + " from " + std::string(what);
  if (!detail.empty()) message += ": " + detail;
  return Status(code, std::move(message));
}

// ---------------------------------------------------------------------------------------------

class HttpClient::Impl {
 public:
  explicit Impl(const HttpClientOptions& options) : options_(options), no_proxy_(NoProxyList()) {}

  ~Impl() {
    std::lock_guard lock(mu_);
    free_.clear();
  }

  // One transfer handle with its own connection cache (the multi handle's).
  struct Handle {
    CURL* easy = nullptr;
    CURLM* multi = nullptr;
    ~Handle() {
      if (multi != nullptr) curl_multi_cleanup(multi);
      if (easy != nullptr) curl_easy_cleanup(easy);
    }
  };

  enum class Method { kGet, kPost, kDelete };

  // Runs one call. `t` says buffered or streaming.
  Result<int> Perform(Method method, std::string_view url, std::string_view body,
                      const HttpHeaders& headers, bool json_body, Transfer& t);

 private:
  Result<std::unique_ptr<Handle>> Acquire();
  void Release(std::unique_ptr<Handle> handle);

  const HttpClientOptions& options_;
  const std::string no_proxy_;
  std::mutex mu_;  // guards free_: idle handles, most recently used last
  std::vector<std::unique_ptr<Handle>> free_;
};

Result<std::unique_ptr<HttpClient::Impl::Handle>> HttpClient::Impl::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      auto h = std::move(free_.back());
      free_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->easy = curl_easy_init();
  h->multi = curl_multi_init();
  if (h->easy == nullptr || h->multi == nullptr) {
    return Error(StatusCode::kInternal, "libcurl could not create a transfer handle");
  }
  return h;
}

void HttpClient::Impl::Release(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(mu_);
  if (free_.size() < options_.max_idle_handles) free_.push_back(std::move(handle));
  // else: destroyed on return, closing its connection (outside no lock worth holding long).
}

Result<int> HttpClient::Impl::Perform(Method method, std::string_view url, std::string_view body,
                                      const HttpHeaders& headers, bool json_body, Transfer& t) {
  auto acquired = Acquire();
  if (!acquired) return Error(acquired.error());
  std::unique_ptr<Handle> handle = std::move(*acquired);
  CURL* easy = handle->easy;
  CURLM* multi = handle->multi;
  const std::string url_str(url);
  const std::string shown_url = RedactUrl(url);

  curl_easy_reset(easy);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_URL, url_str.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_NOPROXY, no_proxy_.c_str());
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &HeaderCallback);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                   t.on_line != nullptr ? &StreamWriteCallback : &BufferedWriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);

  struct curl_slist* header_list = nullptr;
  auto add_header = [&header_list](const std::string& line) {
    header_list = curl_slist_append(header_list, line.c_str());
  };
  if (json_body) add_header("Content-Type: application/json");
  add_header("Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : headers) add_header(name + ": " + value);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list);

  // The handle is reused: a DELETE's custom verb must not leak into the next call.
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method == Method::kDelete ? "DELETE" : nullptr);
  if (method == Method::kPost) {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }

  t.options = &options_;
  t.start = SteadyClock::now();
  t.last_rx = t.start;
  const auto total_deadline = t.start + Ms(options_.total_timeout_ms);
  const auto first_byte_deadline = t.start + Ms(options_.first_byte_timeout_ms);

  std::optional<Status> abort;
  std::optional<CURLcode> result;
  if (CURLMcode mc = curl_multi_add_handle(multi, easy); mc != CURLM_OK) {
    abort = Status(StatusCode::kInternal,
                   std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc));
  }
  while (!abort && !result) {
    int running = 0;
    if (CURLMcode mc = curl_multi_perform(multi, &running); mc != CURLM_OK) {
      abort = Status(StatusCode::kInternal,
                     std::string("curl_multi_perform: ") + curl_multi_strerror(mc));
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) result = msg->data.result;
    }
    if (result) break;
    if (running == 0) {
      abort = Status(StatusCode::kInternal, "libcurl stopped without a result");
      break;
    }
    auto now = SteadyClock::now();
    if (t.cancel != nullptr && t.cancel->load(std::memory_order_relaxed)) {
      t.cancelled = true;
      abort = Status(StatusCode::kCancelled, "request to " + shown_url + " cancelled");
      break;
    }
    // The deadline that applies now: first byte before any byte, then the idle gap; the total
    // always. Report the one that fires first.
    auto phase_deadline =
        t.got_byte ? t.last_rx + Ms(options_.idle_gap_timeout_ms) : first_byte_deadline;
    if (now >= std::min(phase_deadline, total_deadline)) {
      if (phase_deadline < total_deadline) {
        abort = t.got_byte ? TimeoutStatus("idle-gap", options_.idle_gap_timeout_ms, shown_url)
                           : TimeoutStatus("first-byte", options_.first_byte_timeout_ms, shown_url);
      } else {
        abort = TimeoutStatus("total", options_.total_timeout_ms, shown_url);
      }
      break;
    }
    auto wait =
        std::chrono::duration_cast<Ms>(std::min(phase_deadline, total_deadline) - now) + Ms(1);
    if (t.cancel != nullptr) wait = std::min(wait, Ms(kCancelPollMs));
    wait = std::clamp(wait, Ms(1), Ms(1000));
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
  // Removing an unfinished transfer closes its connection: the server sees the client leave.
  curl_multi_remove_handle(multi, easy);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(header_list);
  curl_off_t connect_us = 0;
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  const bool connected = connect_us > 0 || t.got_byte;
  Release(std::move(handle));

  if (abort) return Error(std::move(*abort));
  CURLcode code = *result;
  if (code == CURLE_OK) {
    if (t.status == 0) return Error(StatusCode::kInternal, "no HTTP status from " + shown_url);
    return t.status;
  }
  std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(code);
  switch (code) {
    case CURLE_WRITE_ERROR:
      if (t.too_large) {
        return Error(StatusCode::kInternal, "response from " + shown_url +
                                                " exceeds max_response_bytes (" +
                                                std::to_string(options_.max_response_bytes) + ")");
      }
      if (t.cancelled) {
        return Error(StatusCode::kCancelled, "request to " + shown_url + " cancelled");
      }
      if (t.callback_stopped) {
        return Error(StatusCode::kCancelled,
                     "request to " + shown_url + " stopped by the line callback");
      }
      return Error(StatusCode::kInternal, "write error for " + shown_url + ": " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      if (!connected) {
        return Error(TimeoutStatus("connect", options_.connect_timeout_ms, shown_url));
      }
      return Error(StatusCode::kDeadlineExceeded, "timeout for " + shown_url + ": " + detail);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Error(StatusCode::kUnavailable, "cannot connect to " + shown_url + ": " + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error(StatusCode::kInvalidArgument, "bad URL '" + shown_url + "': " + detail);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
      if (t.got_byte) {
        return Error(StatusCode::kUnavailable,
                     "truncated response from " + shown_url + ": " + detail);
      }
      return Error(StatusCode::kUnavailable,
                   "connection to " + shown_url + " closed without a response: " + detail);
    default:
      return Error(StatusCode::kUnavailable, "request to " + shown_url + " failed: " + detail);
  }
}

// ---------------------------------------------------------------------------------------------

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {
  EnsureCurlGlobalInit();
}

HttpClient::~HttpClient() = default;

namespace {

// One buffered call: the whole body, whatever the status.
template <typename Impl, typename Method>
Result<HttpResponse> Buffered(Impl& impl, Method method, std::string_view url,
                              std::string_view body, const HttpHeaders& headers, bool json_body) {
  HttpResponse response;
  Transfer t;
  t.body = &response.body;
  auto status = impl.Perform(method, url, body, headers, json_body, t);
  if (!status) return Error(status.error());
  response.status = *status;
  response.headers = std::move(t.headers);
  return response;
}

}  // namespace

Result<HttpResponse> HttpClient::Get(std::string_view url, const HttpHeaders& headers) const {
  return Buffered(*impl_, Impl::Method::kGet, url, {}, headers, false);
}

Result<HttpResponse> HttpClient::PostJson(std::string_view url, std::string_view body,
                                          const HttpHeaders& headers) const {
  return Buffered(*impl_, Impl::Method::kPost, url, body, headers, true);
}

Result<HttpResponse> HttpClient::Delete(std::string_view url, const HttpHeaders& headers) const {
  return Buffered(*impl_, Impl::Method::kDelete, url, {}, headers, false);
}

Result<int> HttpClient::PostStream(std::string_view url, std::string_view body,
                                   const HttpHeaders& headers, const LineCallback& on_line,
                                   const std::atomic<bool>* cancel) const {
  Transfer t;
  t.on_line = &on_line;
  t.cancel = cancel;
  auto status = impl_->Perform(Impl::Method::kPost, url, body, headers, true, t);
  if (!status) return Error(status.error());
  if (*status >= 400) return Error(HttpErrorStatus(*status, t.error_body, RedactUrl(url)));
  if (!t.pending.empty()) {
    Deliver(&t, t.pending);  // the last line had no newline; the transfer is over either way
  }
  return *status;
}

}  // namespace jrvs::llm
