#include "http/response_head.h"

#include <charconv>
#include <ctime>
#include <ostream>  // Boost's string_view (pulled in by the Beast header) needs it declared

#include <boost/beast/http/status.hpp>

namespace jrvs::http {
namespace {

namespace bhttp = boost::beast::http;

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

void AppendNumber(uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendHeader(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

// "Date: Tue, 15 Nov 1994 08:12:31 GMT", formatted at most once per second per thread.
std::string_view CurrentDate() {
  thread_local std::time_t cached_second = 0;
  thread_local char cached[40] = {};
  thread_local size_t cached_len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    cached_len = std::strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return std::string_view(cached, cached_len);
}

}  // namespace

bool IsSafeHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

int AppendResponseHead(const api::Response& response, const ResponseHeadInfo& info,
                       std::string* out) {
  int status = info.status >= 100 && info.status <= 999 ? info.status : 500;
  out->append(info.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(status), out);
  out->push_back(' ');
  auto known = bhttp::int_to_status(static_cast<unsigned>(status));
  if (known != bhttp::status::unknown) {
    auto reason = bhttp::obsolete_reason(known);
    out->append(reason.data(), reason.size());
  } else {
    out->append(status == 499 ? "Client Closed Request" : "Status");
  }
  out->append("\r\nServer: jrvs\r\nDate: ");
  out->append(CurrentDate());
  out->append("\r\n");
  if (!response.content_type.empty() && IsSafeHeader("Content-Type", response.content_type)) {
    AppendHeader("Content-Type", response.content_type, out);
  }
  if (!info.request_id.empty()) AppendHeader("X-Request-ID", info.request_id, out);
  int dropped = 0;
  for (const auto& [name, value] : response.headers) {
    if (IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
        IEquals(name, "connection")) {
      continue;  // the server owns framing
    }
    if (!IsSafeHeader(name, value)) {
      ++dropped;
      continue;
    }
    AppendHeader(name, value, out);
  }
  if (info.chunked) {
    out->append("Transfer-Encoding: chunked\r\n");
  } else if (info.content_length) {
    out->append("Content-Length: ");
    AppendNumber(*info.content_length, out);
    out->append("\r\n");
  }
  if (!info.keep_alive && info.version >= 11) out->append("Connection: close\r\n");
  if (info.keep_alive && info.version == 10) out->append("Connection: keep-alive\r\n");
  out->append("\r\n");
  return dropped;
}

}  // namespace jrvs::http
