#include "fakes/fixture_site.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace jrvs::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kBigBytes = 6u << 20;
constexpr int kDefaultSlowMs = 3000;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Page {
  std::string body;
  std::string content_type;
  time_t mtime = 0;
  Headers extra_headers;  // from a .headers sidecar
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string HttpDate(time_t t) {
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  return std::string(buf, n);
}

// Parses an IMF-fixdate; -1 when it is not one.
time_t ParseHttpDate(const std::string& s) {
  struct tm tm_utc = {};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  if (end == nullptr) return -1;
  return timegm(&tm_utc);
}

std::string ETagOf(std::string_view body) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across runs, unlike std::hash
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("\"").append(buf).append("\"");
}

std::string ContentTypeFor(std::string_view path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : Lower(path.substr(dot));
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  if (ext == ".pdf") return "application/pdf";
  if (ext == ".xml") return "application/xml";
  if (ext == ".png") return "image/png";
  return "application/octet-stream";
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The value of `key` in a query string ("a=1&b=2"), percent-decoded; empty when absent.
std::string QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

std::string Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// One answer, written by Session(): the header, then (after body_delay_ms) the body.
struct Answer {
  int status = 200;
  Headers headers;  // Content-Type included; Content-Length / Connection are added
  std::string body;
  int delay_ms = 0;       // before anything is sent
  int body_delay_ms = 0;  // between the header and the body
  bool chunked = false;
};

void SetHeader(Headers& headers, const std::string& name, const std::string& value) {
  for (auto& [n, v] : headers) {
    if (Lower(n) == Lower(name)) {
      v = value;
      return;
    }
  }
  headers.emplace_back(name, value);
}

}  // namespace

class FixtureSite::Impl {
 public:
  explicit Impl(Options options) : options_(std::move(options)) {}
  ~Impl() {
    Stop();
    acceptor_.reset();
    ioc_.reset();  // destroys the coroutine frames (and their sockets) before the members
  }

  bool Listen() {
    try {
      acceptor_ = std::make_unique<tcp::acceptor>(*ioc_);
      tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
      acceptor_->open(ep.protocol());
      acceptor_->set_option(asio::socket_base::reuse_address(true));
      acceptor_->bind(ep);
      acceptor_->listen(asio::socket_base::max_listen_connections);
      port_ = acceptor_->local_endpoint().port();
    } catch (const std::exception&) {
      return false;
    }
    asio::co_spawn(*ioc_, AcceptLoop(), asio::detached);
    thread_ = std::thread([this] { ioc_->run(); });
    return true;
  }

  void Stop() {
    if (!thread_.joinable()) return;
    ioc_->stop();
    thread_.join();
  }

  uint16_t port_ = 0;

  size_t Requests(std::string_view path) const {
    std::lock_guard lock(mu_);
    auto it = request_counts_.find(std::string(path));
    return it == request_counts_.end() ? 0 : it->second;
  }

  void SetRoute(std::string path, Route route) {
    std::lock_guard lock(mu_);
    routes_[std::move(path)] = std::move(route);
  }

  void SetFile(std::string path, std::string body, std::string content_type) {
    std::lock_guard lock(mu_);
    Page page;
    page.body = std::move(body);
    page.content_type = std::move(content_type);
    page.mtime = std::time(nullptr);
    files_[std::move(path)] = std::move(page);
  }

 private:
  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_->async_accept(kUseTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_->is_open()) break;
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // no Nagle wait between header and body
      asio::co_spawn(*ioc_, Session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;  // request bodies are read and ignored
      parser.body_limit(1 << 20);
      parser.header_limit(64 * 1024);
      auto [ec, n] = co_await http::async_read(socket, buffer, parser, kUseTuple);
      if (ec) break;
      const auto& req = parser.get();
      std::string target(req.target());
      auto q = target.find('?');
      std::string path = target.substr(0, q);
      std::string query = q == std::string::npos ? "" : target.substr(q + 1);
      {
        std::lock_guard lock(mu_);
        ++request_counts_[path];
      }
      Answer a = Handle(path, query, req);
      bool keep_alive = req.keep_alive();
      bool head = req.method() == http::verb::head;
      if (!co_await Send(socket, a, keep_alive, head) || !keep_alive) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  asio::awaitable<bool> Sleep(tcp::socket& socket, int ms) {
    if (ms <= 0) co_return true;
    asio::steady_timer timer(socket.get_executor(), std::chrono::milliseconds(ms));
    auto [ec] = co_await timer.async_wait(kUseTuple);
    co_return !ec;
  }

  asio::awaitable<bool> Write(tcp::socket& socket, std::string_view data) {
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(data), kUseTuple);
    co_return !ec;
  }

  asio::awaitable<bool> Send(tcp::socket& socket, const Answer& a, bool keep_alive, bool head) {
    if (!co_await Sleep(socket, a.delay_ms)) co_return false;
    std::string out = std::string("HTTP/1.1 ").append(std::to_string(a.status)).append(" ");
    out.append(Reason(a.status)).append("\r\nServer: jrvs-fixture-site\r\n");
    for (const auto& [n, v] : a.headers) out.append(n).append(": ").append(v).append("\r\n");
    bool no_body = a.status == 304 || a.status == 204;
    if (a.chunked && !no_body) {
      out.append("Transfer-Encoding: chunked\r\n");
    } else if (!no_body) {
      out.append("Content-Length: ").append(std::to_string(a.body.size())).append("\r\n");
    }
    out.append(keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    if (!head && !no_body && !a.chunked && a.body_delay_ms <= 0) {
      out.append(a.body);  // one write: header and body together
      co_return co_await Write(socket, out);
    }
    if (!co_await Write(socket, out)) co_return false;
    if (head || no_body) co_return true;
    if (!co_await Sleep(socket, a.body_delay_ms)) co_return false;
    if (!a.chunked) co_return co_await Write(socket, a.body);
    constexpr size_t kChunk = 64 * 1024;
    for (size_t off = 0; off < a.body.size(); off += kChunk) {
      size_t len = std::min(kChunk, a.body.size() - off);
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", len);
      std::string chunk(size_line);
      chunk.append(a.body, off, len).append("\r\n");
      if (!co_await Write(socket, chunk)) co_return false;
    }
    co_return co_await Write(socket, "0\r\n\r\n");
  }

  Answer Handle(const std::string& path, const std::string& query,
                const http::request<http::string_body>& req) {
    Answer a;
    {
      std::lock_guard lock(mu_);
      if (auto it = routes_.find(path); it != routes_.end()) {
        a.status = it->second.status;
        a.headers = it->second.headers;
        a.body = it->second.body;
        a.delay_ms = it->second.delay_ms;
        bool has_type = std::any_of(a.headers.begin(), a.headers.end(),
                                    [](const auto& h) { return Lower(h.first) == "content-type"; });
        if (!has_type) a.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
        return a;
      }
      if (auto it = files_.find(path); it != files_.end()) return FileAnswer(it->second, req);
    }
    if (path == "/redirect") {
      a.status = 302;
      a.headers = {{"Location", QueryParam(query, "to")}, {"Content-Type", "text/plain"}};
      return a;
    }
    if (path == "/redirect-chain") {
      int n = std::atoi(QueryParam(query, "n").c_str());
      if (n > 0) {
        a.status = 302;
        a.headers = {{"Location", "/redirect-chain?n=" + std::to_string(n - 1)},
                     {"Content-Type", "text/plain"}};
      } else {
        a.headers = {{"Content-Type", "text/html; charset=utf-8"}};
        a.body =
            "<html><head><title>Chain end</title></head><body><p>End of the chain.</p>"
            "</body></html>";
      }
      return a;
    }
    if (path == "/big") {
      a.headers = {{"Content-Type", "text/html; charset=utf-8"}};
      a.body.assign(kBigBytes, 'x');
      a.chunked = QueryParam(query, "chunked") == "1";
      return a;
    }
    if (path == "/slow") {
      std::string ms = QueryParam(query, "ms");
      a.headers = {{"Content-Type", "text/html; charset=utf-8"}};
      a.body = "<html><body><p>Slow page.</p></body></html>";
      a.body_delay_ms = ms.empty() ? kDefaultSlowMs : std::atoi(ms.c_str());
      return a;
    }
    Page page;
    if (LoadFile(path, &page)) return FileAnswer(page, req);
    a.status = 404;
    a.headers = {{"Content-Type", "text/plain"}};
    a.body = "not found";
    return a;
  }

  bool LoadFile(const std::string& path, Page* page) const {
    if (options_.root_dir.empty() || path.empty() || path[0] != '/') return false;
    if (path.find("..") != std::string::npos) return false;  // stay inside root_dir
    std::string rel = path;
    if (rel.back() == '/') rel += "index.html";
    if (rel.size() >= 8 && rel.compare(rel.size() - 8, 8, ".headers") == 0) return false;
    std::string full = options_.root_dir + rel;
    struct stat st;
    if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (!ReadWholeFile(full, &page->body)) return false;
    page->content_type = ContentTypeFor(rel);
    page->mtime = st.st_mtime;
    std::string sidecar;
    if (ReadWholeFile(full + ".headers", &sidecar)) {
      std::istringstream lines(sidecar);
      std::string line;
      while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        page->extra_headers.emplace_back(line.substr(0, colon), value);
      }
    }
    return true;
  }

  static Answer FileAnswer(const Page& page, const http::request<http::string_body>& req) {
    Answer a;
    std::string etag = ETagOf(page.body);
    std::string last_modified = HttpDate(page.mtime);
    a.headers = {
        {"Content-Type", page.content_type}, {"ETag", etag}, {"Last-Modified", last_modified}};
    for (const auto& [n, v] : page.extra_headers) SetHeader(a.headers, n, v);
    std::string inm(req[http::field::if_none_match]);
    std::string ims(req[http::field::if_modified_since]);
    bool not_modified = false;
    if (!inm.empty()) {
      not_modified = inm == "*" || inm.find(etag) != std::string::npos;
    } else if (!ims.empty()) {
      time_t since = ParseHttpDate(ims);
      not_modified = since != -1 && since >= page.mtime;
    }
    if (not_modified) {
      a.status = 304;
      return a;
    }
    a.body = page.body;
    return a;
  }

  Options options_;
  std::unique_ptr<asio::io_context> ioc_ = std::make_unique<asio::io_context>();
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::thread thread_;

  mutable std::mutex mu_;  // guards request_counts_, routes_, files_
  std::map<std::string, size_t, std::less<>> request_counts_;
  std::map<std::string, Route> routes_;
  std::map<std::string, Page> files_;
};

FixtureSite::FixtureSite(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FixtureSite::~FixtureSite() = default;

std::unique_ptr<FixtureSite> FixtureSite::Start(Options options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (!impl->Listen()) return nullptr;
  return std::unique_ptr<FixtureSite>(new FixtureSite(std::move(impl)));
}

uint16_t FixtureSite::port() const { return impl_->port_; }

std::string FixtureSite::Url(std::string_view path) const {
  return std::string("http://127.0.0.1:").append(std::to_string(port())).append(path);
}

size_t FixtureSite::Requests(std::string_view path) const { return impl_->Requests(path); }

void FixtureSite::SetRoute(std::string path, Route route) {
  impl_->SetRoute(std::move(path), std::move(route));
}

void FixtureSite::SetFile(std::string path, std::string body, std::string content_type) {
  impl_->SetFile(std::move(path), std::move(body), std::move(content_type));
}

}  // namespace jrvs::testing
