#include "fakes/fake_llm_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "fakes/fake_llm_routes.h"

namespace jrvs::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

using fake_llm::Config;
using fake_llm::Piece;
using fake_llm::Response;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

bool ParseFakeMode(std::string_view name, FakeMode* mode) {
  static const std::pair<std::string_view, FakeMode> kModes[] = {
      {"normal", FakeMode::kNormal},
      {"500", FakeMode::kHttp500},
      {"hang", FakeMode::kHang},
      {"truncate", FakeMode::kTruncate},
      {"malformed", FakeMode::kMalformedJson},
      {"slow-headers", FakeMode::kSlowHeaders},
      {"drop-embedding", FakeMode::kDropEmbedding}};
  for (const auto& [n, m] : kModes) {
    if (n == name) {
      *mode = m;
      return true;
    }
  }
  return false;
}

std::string_view FakeModeName(FakeMode mode) {
  switch (mode) {
    case FakeMode::kNormal:
      return "normal";
    case FakeMode::kHttp500:
      return "500";
    case FakeMode::kHang:
      return "hang";
    case FakeMode::kTruncate:
      return "truncate";
    case FakeMode::kMalformedJson:
      return "malformed";
    case FakeMode::kSlowHeaders:
      return "slow-headers";
    case FakeMode::kDropEmbedding:
      return "drop-embedding";
  }
  return "unknown";
}

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------

class FakeLlmServer::Impl {
 public:
  explicit Impl(FakeLlmOptions options) : options_(std::move(options)) {}

  ~Impl() {
    Stop();
    // Coroutine frames still owned by the io_context are destroyed here, before the members
    // they refer to.
    acceptor_.reset();
    ioc_.reset();
  }

  bool Start();
  void Stop();

  // Guards options_ and fail_next_*: the configuration requests take a snapshot of.
  mutable std::mutex config_mu_;
  FakeLlmOptions options_;
  FakeMode fail_next_mode_ = FakeMode::kNormal;
  int fail_next_count_ = 0;

  mutable std::mutex requests_mu_;  // guards requests_
  std::vector<RecordedRequest> requests_;

  std::atomic<int> connections_accepted_{0};
  std::atomic<int> open_connections_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::atomic<int> client_disconnects_{0};
  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> accepting_{false};

  mutable std::mutex error_mu_;  // guards error_
  std::string error_;

 private:
  struct Connection {
    explicit Connection(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
  };

  Config Snapshot();
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Session(std::shared_ptr<Connection> conn);
  // Handles one request; returns whether the connection may serve another.
  asio::awaitable<bool> Serve(Connection& conn, const http::request<http::string_body>& req,
                              const Config& cfg);
  asio::awaitable<bool> WriteResponse(Connection& conn, const Response& r, bool keep_alive,
                                      const Config& cfg);
  // Waits `ms` while watching the socket; false if the client went away (counted).
  asio::awaitable<bool> Wait(Connection& conn, int ms);
  // Waits until the client goes away (or Stop()).
  asio::awaitable<void> WaitForClientGone(Connection& conn);
  asio::awaitable<bool> Write(Connection& conn, std::string_view data);
  void NoteDisconnect() {
    if (!stopping_) ++client_disconnects_;
  }

  std::unique_ptr<asio::io_context> ioc_ = std::make_unique<asio::io_context>();
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::once_flag stop_once_;

  std::mutex conns_mu_;  // guards conns_: live connections, closed by Stop()
  std::map<uint64_t, std::weak_ptr<Connection>> conns_;
  uint64_t next_conn_ = 0;  // guarded by conns_mu_
};

Config FakeLlmServer::Impl::Snapshot() {
  std::lock_guard lock(config_mu_);
  Config c;
  c.reply = options_.reply;
  c.ttft_ms = options_.ttft_ms;
  c.token_delay_ms = options_.token_delay_ms;
  c.models = options_.models;
  c.embed_dim = options_.embed_dim;
  c.embed_scale = options_.embed_scale;
  c.reverse_embedding_order = options_.reverse_embedding_order;
  c.disable_embed_api = options_.disable_embed_api;
  c.mode = options_.mode;
  c.truncate_after_tokens = options_.truncate_after_tokens;
  c.slow_headers_ms = options_.slow_headers_ms;
  if (fail_next_count_ > 0) {
    --fail_next_count_;
    c.mode = fail_next_mode_;
  }
  return c;
}

bool FakeLlmServer::Impl::Start() {
  try {
    auto address = asio::ip::make_address(options_.host);
    acceptor_ = std::make_unique<tcp::acceptor>(asio::make_strand(*ioc_));
    tcp::endpoint ep(address, options_.port);
    acceptor_->open(ep.protocol());
    acceptor_->set_option(asio::socket_base::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_->local_endpoint().port();
  } catch (const std::exception& e) {
    std::lock_guard lock(error_mu_);
    error_ = std::string("cannot listen on ") + options_.host + ":" +
             std::to_string(options_.port) + ": " + e.what();
    return false;
  }
  accepting_ = true;
  asio::co_spawn(acceptor_->get_executor(), AcceptLoop(), asio::detached);
  int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { ioc_->run(); });
  }
  return true;
}

void FakeLlmServer::Impl::Stop() {
  std::call_once(stop_once_, [this] {
    stopping_ = true;
    if (threads_.empty()) return;
    asio::post(acceptor_->get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    });
    {
      std::lock_guard lock(conns_mu_);
      for (auto& [id, weak] : conns_) {
        if (auto conn = weak.lock()) {
          asio::post(conn->socket.get_executor(), [conn] {
            boost::system::error_code ignored;
            conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
            conn->socket.close(ignored);
          });
        }
      }
    }
    // Every wait watches its socket, so closing the sockets ends every coroutine; give them a
    // moment to unwind, then stop regardless.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while ((open_connections_ > 0 || accepting_) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ioc_->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  });
}

asio::awaitable<void> FakeLlmServer::Impl::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(asio::make_strand(*ioc_), kUseTuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted || !acceptor_->is_open()) break;
      continue;  // e.g. EMFILE; keep serving
    }
    ++connections_accepted_;
    ++open_connections_;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(conns_mu_);
      conns_[next_conn_++] = conn;
      // Drop entries of connections that are gone.
      std::erase_if(conns_, [](const auto& kv) { return kv.second.expired(); });
    }
    auto executor = conn->socket.get_executor();
    asio::co_spawn(executor, Session(std::move(conn)), asio::detached);
  }
  accepting_ = false;
}

asio::awaitable<void> FakeLlmServer::Impl::Session(std::shared_ptr<Connection> conn) {
  struct OpenGuard {
    std::atomic<int>& open;
    ~OpenGuard() { --open; }
  } open_guard{open_connections_};
  size_t body_limit;
  {
    std::lock_guard lock(config_mu_);
    body_limit = options_.max_body_bytes;
  }
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    parser.header_limit(64 * 1024);
    auto [ec, n] = co_await http::async_read(conn->socket, conn->buffer, parser, kUseTuple);
    if (ec == http::error::body_limit) {
      Response r = fake_llm::OllamaError(413, "request body too large");
      co_await WriteResponse(*conn, r, false, Config{});
      break;
    }
    if (ec) break;  // end of stream, a bad request, or Stop()
    const auto& req = parser.get();
    RecordedRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    rec.path = rec.target.substr(0, rec.target.find('?'));
    rec.body = req.body();
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      rec.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    {
      std::lock_guard lock(requests_mu_);
      requests_.push_back(std::move(rec));
    }
    int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    struct InFlightGuard {
      std::atomic<int>& n;
      ~InFlightGuard() { --n; }
    } in_flight_guard{in_flight_};
    bool keep = co_await Serve(*conn, req, Snapshot());
    if (!keep) break;
  }
  boost::system::error_code ignored;
  conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
  conn->socket.close(ignored);
}

asio::awaitable<bool> FakeLlmServer::Impl::Serve(Connection& conn,
                                                 const http::request<http::string_body>& req,
                                                 const Config& cfg) {
  if (cfg.mode == FakeMode::kHang) {
    co_await WaitForClientGone(conn);
    co_return false;
  }
  Response r;
  if (cfg.mode == FakeMode::kHttp500) {
    r = fake_llm::OllamaError(500, "fake server error");
  } else {
    r = fake_llm::Route(req.method_string(), req.target(), req.body(), cfg, next_id_++);
  }
  co_return co_await WriteResponse(conn, r, req.keep_alive(), cfg);
}

asio::awaitable<bool> FakeLlmServer::Impl::Write(Connection& conn, std::string_view data) {
  auto [ec, n] = co_await asio::async_write(conn.socket, asio::buffer(data), kUseTuple);
  if (ec) {
    NoteDisconnect();
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> FakeLlmServer::Impl::Wait(Connection& conn, int ms) {
  if (ms <= 0) co_return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  asio::steady_timer timer(conn.socket.get_executor());
  for (;;) {
    timer.expires_at(deadline);
    auto result = co_await (timer.async_wait(kUseTuple) ||
                            conn.socket.async_read_some(conn.buffer.prepare(4096), kUseTuple));
    if (result.index() == 0) co_return true;
    auto [ec, n] = std::get<1>(result);
    if (ec) {
      NoteDisconnect();
      co_return false;
    }
    conn.buffer.commit(n);  // a pipelined request: keep it for later and go on waiting
  }
}

asio::awaitable<void> FakeLlmServer::Impl::WaitForClientGone(Connection& conn) {
  for (;;) {
    auto [ec, n] = co_await conn.socket.async_read_some(conn.buffer.prepare(4096), kUseTuple);
    if (ec) {
      NoteDisconnect();
      co_return;
    }
    conn.buffer.commit(n);
    if (conn.buffer.size() > (1 << 20)) conn.buffer.consume(conn.buffer.size());
  }
}

asio::awaitable<bool> FakeLlmServer::Impl::WriteResponse(Connection& conn, const Response& r,
                                                         bool keep_alive, const Config& cfg) {
  bool malformed = cfg.mode == FakeMode::kMalformedJson;
  bool streaming = !r.stream.empty() && r.status == 200;
  if (!co_await Wait(conn, r.delay_ms)) co_return false;

  std::string body = r.body;
  if (malformed && r.body_is_json) body.resize(body.size() / 2);

  std::vector<std::string> header_lines;
  header_lines.push_back("HTTP/1.1 " + std::to_string(r.status) + " " +
                         fake_llm::ReasonPhrase(r.status) + "\r\n");
  header_lines.push_back("Server: jrvs-fake-llm\r\n");
  header_lines.push_back("Content-Type: " + r.content_type + "\r\n");
  if (streaming) {
    header_lines.push_back("Transfer-Encoding: chunked\r\n");
    if (r.content_type == "text/event-stream")
      header_lines.push_back("Cache-Control: no-cache\r\n");
  } else {
    header_lines.push_back("Content-Length: " + std::to_string(body.size()) + "\r\n");
  }
  header_lines.push_back(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  header_lines.push_back("\r\n");

  if (!streaming) {
    if (cfg.mode == FakeMode::kSlowHeaders) {
      for (size_t i = 0; i < header_lines.size(); ++i) {
        if (i > 0 && !co_await Wait(conn, cfg.slow_headers_ms)) co_return false;
        if (!co_await Write(conn, header_lines[i])) co_return false;
      }
    } else {
      std::string head;
      for (const auto& l : header_lines) head += l;
      if (!co_await Write(conn, head)) co_return false;
    }
    if (cfg.mode == FakeMode::kTruncate) {
      // Announce the full length, send half of it, then hang up.
      co_await Write(conn, std::string_view(body).substr(0, body.size() / 2));
      co_return false;
    }
    if (!co_await Write(conn, body)) co_return false;
    co_return keep_alive;
  }

  // Streaming: the header goes out with the first piece, as a real model server flushes it.
  int tokens_sent = 0;
  bool header_sent = false;
  for (const Piece& piece : r.stream) {
    if (!co_await Wait(conn, piece.delay_ms)) co_return false;
    if (cfg.mode == FakeMode::kTruncate && piece.is_token &&
        tokens_sent >= cfg.truncate_after_tokens) {
      co_return false;  // closes mid-stream, without the terminating chunk
    }
    if (!header_sent) {
      if (cfg.mode == FakeMode::kSlowHeaders) {
        for (size_t i = 0; i < header_lines.size(); ++i) {
          if (i > 0 && !co_await Wait(conn, cfg.slow_headers_ms)) co_return false;
          if (!co_await Write(conn, header_lines[i])) co_return false;
        }
      } else {
        std::string head;
        for (const auto& l : header_lines) head += l;
        if (!co_await Write(conn, head)) co_return false;
      }
      header_sent = true;
    }
    std::string payload = piece.json;
    if (malformed && !payload.empty()) payload.resize(payload.size() / 2);
    std::string data = piece.prefix + payload + piece.suffix;
    char size_line[24];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    if (!co_await Write(conn, std::string(size_line) + data + "\r\n")) co_return false;
    if (piece.is_token) ++tokens_sent;
  }
  if (cfg.mode == FakeMode::kTruncate) co_return false;
  if (!co_await Write(conn, "0\r\n\r\n")) co_return false;
  co_return keep_alive;
}

// ---------------------------------------------------------------------------------------------

FakeLlmServer::FakeLlmServer(FakeLlmOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

FakeLlmServer::~FakeLlmServer() = default;

bool FakeLlmServer::Start() { return impl_->Start(); }
void FakeLlmServer::Stop() { impl_->Stop(); }

uint16_t FakeLlmServer::port() const { return impl_->port_; }

std::string FakeLlmServer::base_url() const {
  std::string host;
  {
    std::lock_guard lock(impl_->config_mu_);
    host = impl_->options_.host;
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port());
}

std::string FakeLlmServer::error() const {
  std::lock_guard lock(impl_->error_mu_);
  return impl_->error_;
}

#define JRVS_FAKE_SETTER(Name, Type, field)   \
  void FakeLlmServer::Name(Type value) {      \
    std::lock_guard lock(impl_->config_mu_);  \
    impl_->options_.field = std::move(value); \
  }

JRVS_FAKE_SETTER(SetReply, std::string, reply)
JRVS_FAKE_SETTER(SetTtftMs, int, ttft_ms)
JRVS_FAKE_SETTER(SetTokenDelayMs, int, token_delay_ms)
JRVS_FAKE_SETTER(SetModels, std::vector<std::string>, models)
JRVS_FAKE_SETTER(SetEmbedDim, size_t, embed_dim)
JRVS_FAKE_SETTER(SetEmbedScale, float, embed_scale)
JRVS_FAKE_SETTER(SetReverseEmbeddingOrder, bool, reverse_embedding_order)
JRVS_FAKE_SETTER(SetDisableEmbedApi, bool, disable_embed_api)
JRVS_FAKE_SETTER(SetMode, FakeMode, mode)
JRVS_FAKE_SETTER(SetTruncateAfterTokens, int, truncate_after_tokens)
JRVS_FAKE_SETTER(SetSlowHeadersMs, int, slow_headers_ms)

#undef JRVS_FAKE_SETTER

void FakeLlmServer::FailNext(FakeMode mode, int count) {
  std::lock_guard lock(impl_->config_mu_);
  impl_->fail_next_mode_ = mode;
  impl_->fail_next_count_ = count;
}

std::vector<RecordedRequest> FakeLlmServer::requests() const {
  std::lock_guard lock(impl_->requests_mu_);
  return impl_->requests_;
}

size_t FakeLlmServer::RequestCount(std::string_view path) const {
  std::lock_guard lock(impl_->requests_mu_);
  return static_cast<size_t>(
      std::count_if(impl_->requests_.begin(), impl_->requests_.end(),
                    [&](const RecordedRequest& r) { return r.path == path; }));
}

void FakeLlmServer::ClearRequests() {
  std::lock_guard lock(impl_->requests_mu_);
  impl_->requests_.clear();
}

int FakeLlmServer::connections_accepted() const { return impl_->connections_accepted_; }
int FakeLlmServer::open_connections() const { return impl_->open_connections_; }
int FakeLlmServer::in_flight() const { return impl_->in_flight_; }
int FakeLlmServer::max_in_flight() const { return impl_->max_in_flight_; }
int FakeLlmServer::client_disconnects() const { return impl_->client_disconnects_; }

namespace {
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}
}  // namespace

bool FakeLlmServer::WaitForClientDisconnects(int n, std::chrono::milliseconds timeout) const {
  return PollUntil([&] { return client_disconnects() >= n; }, timeout);
}

bool FakeLlmServer::WaitForIdle(std::chrono::milliseconds timeout) const {
  return PollUntil([&] { return in_flight() == 0; }, timeout);
}

}  // namespace jrvs::testing
