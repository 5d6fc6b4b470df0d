#include "scrape/curl_transfer.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "core/text.h"
#include "scrape/charset.h"

namespace jrvs::scrape {
namespace {

constexpr size_t kOtherStatusBodyCap = 64 * 1024;  // bodies of redirects and errors

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The calling thread's easy handle, reset for a new transfer. Reused only by the fetcher that
// created it (owner), so connections never cross between fetchers with different policies.
CURL* ThreadHandle(uint64_t owner) {
  struct Handle {
    CURL* easy = nullptr;
    uint64_t owner = 0;
    ~Handle() {
      if (easy != nullptr) curl_easy_cleanup(easy);
    }
  };
  thread_local Handle h;
  if (h.easy != nullptr && h.owner != owner) {
    curl_easy_cleanup(h.easy);
    h.easy = nullptr;
  }
  if (h.easy == nullptr) {
    GlobalInit();
    h.easy = curl_easy_init();
    h.owner = owner;
  } else {
    curl_easy_reset(h.easy);  // keeps the connection cache
  }
  return h.easy;
}

struct State {
  const TransferRequest* req = nullptr;
  TransferResult* out = nullptr;
  std::vector<std::pair<std::string, std::string>> headers;  // of the current response
  int status = 0;
  bool got_bytes = false;
  FetchError abort_error = FetchError::kNone;
  std::string abort_message;
  bool quiet_abort = false;  // stopped reading a body we do not need
  std::string refused_address;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  bool Success() const { return status >= 200 && status < 300; }
};

bool AddressPinned(const State& st, const IpAddress& a) {
  const auto& allowed = st.req->target->addresses;
  return std::find(allowed.begin(), allowed.end(), a) != allowed.end();
}

// Called once the header of a final (non-1xx) response is complete; false aborts.
bool OnHeadersDone(State& st) {
  if (!st.Success()) return true;
  std::string length = st.Header("content-length");
  if (!length.empty() &&
      std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      (length.size() > 18 || std::stoull(length) > st.req->max_bytes)) {
    st.abort_error = FetchError::kTooLarge;
    st.abort_message =
        fmt::format("Content-Length {} is over the limit of {} bytes", length, st.req->max_bytes);
    return false;
  }
  std::string type = MediaType(st.Header("content-type"));
  if (!st.req->accept_any_type && !type.empty() && !IsAcceptedType(type, st.req->accept_xml)) {
    st.abort_error = FetchError::kUnsupportedType;
    st.abort_message = std::string("content type ").append(type).append(" is not scraped");
    return false;
  }
  return true;
}

size_t HeaderCallback(char* data, size_t size, size_t count, void* user) {
  auto& st = *static_cast<State*>(user);
  size_t n = size * count;
  st.got_bytes = true;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after 1xx or on each hop)
    st.headers.clear();
    auto sp = line.find(' ');
    st.status =
        sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    return n;
  }
  if (text::TrimAscii(line).empty()) {
    if (st.status >= 100 && st.status < 200) return n;
    return OnHeadersDone(st) ? n : 0;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    st.headers.emplace_back(text::AsciiLower(text::TrimAscii(line.substr(0, colon))),
                            std::string(text::TrimAscii(line.substr(colon + 1))));
  }
  return n;
}

size_t WriteCallback(char* data, size_t size, size_t count, void* user) {
  auto& st = *static_cast<State*>(user);
  size_t n = size * count;
  std::string& body = st.out->body;
  if (st.Success()) {
    if (body.size() + n > st.req->max_bytes) {
      st.abort_error = FetchError::kTooLarge;
      st.abort_message = std::string("body is over the limit of ")
                             .append(std::to_string(st.req->max_bytes))
                             .append(" bytes");
      return 0;
    }
  } else if (body.size() + n > kOtherStatusBodyCap) {
    st.quiet_abort = true;
    return 0;
  }
  body.append(data, n);
  return n;
}

curl_socket_t OpenSocketCallback(void* user, curlsocktype /*purpose*/,
                                 struct curl_sockaddr* address) {
  auto& st = *static_cast<State*>(user);
  IpAddress a;
  if (address->family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&address->addr);
    std::memcpy(a.bytes.data(), &sin->sin_addr, 4);
  } else if (address->family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
    a.v6 = true;
    std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
  } else {
    st.refused_address = "a non-IP socket";
    return CURL_SOCKET_BAD;
  }
  if (!AddressPinned(st, a)) {
    st.refused_address = a.ToString();
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

std::optional<IpAddress> ParseAnyIp(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return ParseIpv6(text);
  if (std::count(text.begin(), text.end(), '.') != 3) return std::nullopt;
  return ParseNumericIpv4(text);
}

}  // namespace

std::string MediaType(std::string_view content_type) {
  return text::AsciiLower(text::TrimAscii(content_type.substr(0, content_type.find(';'))));
}

bool IsAcceptedType(std::string_view media_type, bool accept_xml) {
  if (accept_xml && (media_type == "application/xml" || media_type == "text/xml")) return true;
  return media_type == "text/html" || media_type == "application/xhtml+xml" ||
         media_type == "text/plain" || media_type == "application/pdf";
}

std::string SniffMediaType(std::string_view body) {
  std::string_view head = body.substr(0, 1024);
  if (head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
  head = text::TrimAscii(head);
  if (head.substr(0, 5) == "%PDF-") return "application/pdf";
  if (!head.empty() && head.front() == '<') return "text/html";
  if (IsValidUtf8(body) && body.find('\0') == std::string_view::npos) return "text/plain";
  return "";
}

TransferResult RunTransfer(const TransferRequest& req) {
  TransferResult out;
  auto start = std::chrono::steady_clock::now();
  const CheckedUrl& t = *req.target;
  State st;
  st.req = &req;
  st.out = &out;
  CURL* easy = ThreadHandle(req.owner_id);
  char errbuf[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(easy, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // never a proxy: it would connect unchecked
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(req.connect_timeout_ms, req.timeout_ms)));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_ms));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, req.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl decodes
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &HeaderCallback);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &OpenSocketCallback);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, &st);

  struct curl_slist* resolve = nullptr;
  if (!t.host_is_ip) {
    std::string key = fmt::format("{}:{}", t.host, t.port);
    std::string entry = fmt::format("{}:", key);
    for (size_t i = 0; i < t.addresses.size(); ++i) {
      const IpAddress& a = t.addresses[i];
      entry.append(i > 0 ? "," : "");
      entry.append(a.v6 ? fmt::format("[{}]", a.ToString()) : a.ToString());
    }
    std::string drop = fmt::format("-{}", key);
    resolve = curl_slist_append(resolve, drop.c_str());  // drop an older pin
    resolve = curl_slist_append(resolve, entry.c_str());
    curl_easy_setopt(easy, CURLOPT_RESOLVE, resolve);
  }
  struct curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  if (headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(easy);

  char* primary_ip = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &primary_ip);
  std::string connected_ip = primary_ip != nullptr ? primary_ip : "";
  curl_off_t connect_us = 0;
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_RESOLVE, nullptr);
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);

  out.status = st.status;
  out.content_type = st.Header("content-type");
  out.location = st.Header("location");
  out.etag = st.Header("etag");
  out.last_modified = st.Header("last-modified");
  out.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  auto fail = [&](FetchError e, std::string message) {
    out.error = e;
    out.message = std::move(message);
    out.body.clear();
    return out;
  };
  if (!st.refused_address.empty()) {
    return fail(FetchError::kBlocked,
                std::string("connection to ").append(st.refused_address).append(" refused"));
  }
  if (!connected_ip.empty()) {
    auto ip = ParseAnyIp(connected_ip);
    if (!ip || !AddressPinned(st, *ip)) {
      return fail(FetchError::kBlocked,
                  std::string("connected to unchecked address ").append(connected_ip));
    }
  }
  if (st.abort_error != FetchError::kNone) return fail(st.abort_error, st.abort_message);
  if (code == CURLE_WRITE_ERROR && st.quiet_abort) code = CURLE_OK;
  std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OK:
      return out;
    case CURLE_OPERATION_TIMEDOUT:
      if (connect_us > 0 || st.got_bytes) return fail(FetchError::kTimeout, detail);
      return fail(FetchError::kConnect, detail);
    case CURLE_COULDNT_CONNECT:
      return fail(FetchError::kConnect, detail);
    case CURLE_COULDNT_RESOLVE_HOST:
      return fail(FetchError::kDns, detail);
    case CURLE_FILESIZE_EXCEEDED:
      return fail(FetchError::kTooLarge, detail);
    default:
      return fail(FetchError::kOther, detail);
  }
}

}  // namespace jrvs::scrape
