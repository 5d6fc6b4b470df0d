#include "http/connection.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "http/request_id.h"
#include "http/response_head.h"
#include "http/stream_bridge.h"
#include "http/target.h"
#include "http/websocket_session.h"

namespace jrvs::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
// After an error response or Connection: close, the send side is shut and the client's unread
// bytes are drained for a while, so closing does not reset the connection (and destroy the
// response in the client's receive buffer) while the client is still sending a large body.
constexpr int64_t kLingerMs = 1000;
constexpr size_t kLingerMaxBytes = 8 << 20;

std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Runs `fn` on the worker pool and resumes the calling coroutine on its own executor afterwards.
// Returns false, without running `fn`, if the pool rejected or cancelled it.
template <typename Fn>
asio::awaitable<bool> RunOnWorker(WorkerPool& pool, Fn fn) {
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(
      [&pool, ex](auto handler, Fn f) {
        pool.TryPost(
            WorkerPool::Task([ex, h = std::move(handler), f = std::move(f)](bool run) mutable {
              if (run) f();
              asio::post(ex, [h = std::move(h), run]() mutable { std::move(h)(run); });
            }));
      },
      asio::use_awaitable, std::move(fn));
}

// The exception firewall: nothing a handler throws escapes, and nothing of it reaches the client.
api::Response InvokeHandler(const api::Handler& handler, const api::Request& request) noexcept {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: handler for {} {} threw: {}", request.request_id, request.method,
                  request.path, e.what());
  } catch (...) {
    spdlog::error("request {}: handler for {} {} threw a non-standard exception",
                  request.request_id, request.method, request.path);
  }
  return api::ErrorResponse(StatusCode::kInternal, "internal error", request.request_id);
}

bool IEquals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

// Errors after which the connection is gone, timed out or being stopped: no response is possible.
bool IsDisconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == asio::error::connection_aborted || ec == asio::error::shut_down;
}

// True if the handler asked for the connection to be closed after this response.
bool WantsClose(const api::Response& response) {
  for (const auto& [name, value] : response.headers) {
    if (IEquals(name, "connection") && IEquals(value, "close")) return true;
  }
  return false;
}

api::Response Overloaded(const std::string& request_id) {
  api::Response busy =
      api::ErrorResponse(StatusCode::kUnavailable, "server overloaded, retry later", request_id);
  busy.headers.emplace_back("Retry-After", "1");
  return busy;
}

}  // namespace

// One request and what the response writer needs to know about it. Reused across the requests of
// a connection so its strings keep their capacity.
struct Exchange {
  api::Request request;
  unsigned version = 11;
  bool keep_alive = true;
  bool head = false;  // HEAD request: headers only
  int route_id = -1;
  std::string_view origin;        // CORS Origin header (views into request.headers)
  std::string_view encoded_path;  // views into request.target
  SteadyClock::time_point started;

  void Reset() {
    request.method.clear();
    request.target.clear();
    request.path.clear();
    request.query.clear();
    request.path_params.clear();
    request.body.clear();
    request.request_id.clear();
    version = 11;
    keep_alive = true;
    head = false;
    route_id = -1;
    origin = {};
    encoded_path = {};
    started = SteadyClock::now();
  }
};

// ---- ConnectionTracker ----

void ConnectionTracker::Add(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  connections_.insert(connection);
}

void ConnectionTracker::Remove(Connection* connection) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [connection](const auto& c) { return c.get() == connection; });
  if (it != connections_.end()) connections_.erase(it);
  if (connections_.empty()) cv_.notify_all();
}

std::vector<std::shared_ptr<Connection>> ConnectionTracker::Snapshot() const {
  std::lock_guard lock(mu_);
  return {connections_.begin(), connections_.end()};
}

bool ConnectionTracker::WaitEmpty(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, Ms(timeout_ms), [this] { return connections_.empty(); });
}

// ---- Connection: lifetime, deadlines, stop ----

Connection::Connection(ServerShared& shared, tcp::socket socket)
    : shared_(shared),
      socket_(std::move(socket)),
      watchdog_(socket_.get_executor()),
      exchange_(std::make_unique<Exchange>()) {
  beast::error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_address_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }
  exchange_->request.remote_address = remote_address_;
  socket_.set_option(tcp::no_delay(true), ec);
  const ServerOptions& o = shared_.options;
  watch_step_ = Ms(std::max<int64_t>(1, std::min({o.header_timeout_ms, o.body_timeout_ms,
                                                  o.idle_timeout_ms, o.write_timeout_ms})));
}

Connection::~Connection() = default;

asio::any_io_executor Connection::executor() { return socket_.get_executor(); }

void Connection::SetDeadline(int64_t timeout_ms) {
  deadline_ = SteadyClock::now() + Ms(timeout_ms);
  // Only a deadline shorter than the watchdog step (the linger) can fall before its wake-up.
  if (deadline_ < watchdog_.expiry()) watchdog_.cancel();
}

void Connection::ClearDeadline() { deadline_ = SteadyClock::time_point::max(); }

void Connection::Shut() {
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.cancel(ec);
}

void Connection::CloseIfIdle() {
  if (websocket_) websocket_->CloseIfIdle();
  if (!idle_) return;
  beast::error_code ec;
  socket_.cancel(ec);
}

void Connection::ForceClose() {
  force_closed_ = true;
  if (active_stream_) active_stream_->MarkGone();
  if (websocket_) websocket_->ForceClose();
  Shut();
}

asio::awaitable<void> Connection::Watch(std::shared_ptr<Connection> self) {
  while (!self->finished_) {
    auto now = SteadyClock::now();
    if (self->deadline_ <= now) {
      self->ClearDeadline();
      self->Shut();  // the pending operation fails and the coroutine ends the connection
    }
    // Deadlines of configured timeouts are set at least watch_step_ ahead, so none can fall
    // before this wake-up; a shorter one (the linger) cancels the wait to be re-armed.
    auto wake = std::min(self->deadline_, now + self->watch_step_);
    self->watchdog_.expires_at(wake);
    co_await self->watchdog_.async_wait(kTuple);
  }
}

asio::awaitable<void> Connection::Run(std::shared_ptr<Connection> self) {
  self->shared_.metrics.ConnectionOpened();
  asio::co_spawn(self->executor(), Watch(self), asio::detached);
  struct Cleanup {
    Connection* c;
    ~Cleanup() {
      c->finished_ = true;
      c->watchdog_.cancel();
      beast::error_code ec;
      c->socket_.close(ec);
      c->shared_.metrics.ConnectionClosed();
      c->shared_.tracker.Remove(c);
    }
  } cleanup{self.get()};
  co_await self->Serve();
}

// ---- Connection: the request loop ----

asio::awaitable<void> Connection::Serve() {
  const ServerOptions& options = shared_.options;
  bool first = true;
  std::optional<RequestParser> parser;
  // The header deadline of a new connection runs from accept: a client that connects and sends
  // nothing is cut off like one that dribbles.
  SetDeadline(options.header_timeout_ms);
  for (;;) {
    if (buffer_.size() == 0) {
      // Wait for the first byte of the next request (keep-alive idle time).
      if (shared_.stopping.load(std::memory_order_relaxed) || force_closed_) co_return;
      if (!first) SetDeadline(options.idle_timeout_ms);
      idle_ = true;
      auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
      idle_ = false;
      if (ec) co_return;
      buffer_.commit(n);
      if (!first) SetDeadline(options.header_timeout_ms);
    } else if (!first) {
      SetDeadline(options.header_timeout_ms);  // a pipelined request is already buffered
    }
    first = false;

    parser.emplace();
    parser->header_limit(static_cast<uint32_t>(options.max_header_bytes));
    parser->body_limit(static_cast<uint64_t>(options.body_limit_bytes));
    auto [ec, n] = co_await bhttp::async_read_header(socket_, buffer_, *parser, kTuple);
    ClearDeadline();
    if (!ec) {
      bool keep_alive = co_await ServeRequest(*parser);
      if (!keep_alive || force_closed_) break;
      continue;
    }
    if (IsDisconnect(ec) || force_closed_) co_return;
    if (ec == bhttp::error::body_limit) {
      co_await SendError(
          *parser, StatusCode::kPayloadTooLarge, 413,
          "request body exceeds " + std::to_string(options.body_limit_bytes) + " bytes");
    } else if (ec == bhttp::error::header_limit) {
      co_await SendError(*parser, StatusCode::kInvalidArgument, 431, "request header too large");
    } else {
      co_await SendError(*parser, StatusCode::kInvalidArgument, 400, "malformed HTTP request");
    }
    break;
  }
  co_await CloseGracefully();
}

asio::awaitable<bool> Connection::ServeRequest(RequestParser& parser) {
  const ServerOptions& options = shared_.options;
  Exchange& ex = *exchange_;
  ex.Reset();
  shared_.metrics.RequestStarted();
  auto& msg = parser.get();
  api::Request& request = ex.request;
  ex.version = msg.version() == 10 ? 10 : 11;
  ex.head = msg.method() == bhttp::verb::head;
  request.method.assign(msg.method_string());
  request.target.assign(msg.target());
  auto incoming_id = msg["X-Request-ID"];
  if (IsValidRequestId(incoming_id)) {
    request.request_id.assign(incoming_id);
  } else {
    NewRequestId(&request.request_id);
  }

  // The body, if any; 100 Continue first so clients that wait for it do not stall.
  if (!parser.is_done()) {
    if (ex.version >= 11 && IEquals(msg[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      SetDeadline(options.write_timeout_ms);
      auto [ec, n] = co_await asio::async_write(
          socket_, asio::buffer(kContinue.data(), kContinue.size()), kTuple);
      if (ec) {
        RecordFinished(ex, 499, 0);
        co_return false;
      }
    }
    SetDeadline(options.body_timeout_ms);
    auto [ec, n] = co_await bhttp::async_read(socket_, buffer_, parser, kTuple);
    ClearDeadline();
    if (ec) {
      if (IsDisconnect(ec) || force_closed_) {
        RecordFinished(ex, 499, 0);
        co_return false;
      }
      api::Response error =
          ec == bhttp::error::body_limit
              ? api::ErrorResponse(
                    StatusCode::kPayloadTooLarge,
                    "request body exceeds " + std::to_string(options.body_limit_bytes) + " bytes",
                    request.request_id)
              : api::ErrorResponse(StatusCode::kInvalidArgument, "malformed HTTP request",
                                   request.request_id);
      ex.keep_alive = false;
      co_await Send(ex, error);
      co_return false;
    }
  }
  ex.keep_alive = msg.keep_alive();

  // Header names lower-case; the vector's strings are reused from the previous request.
  size_t count = 0;
  for (const auto& field : msg) {
    if (count == request.headers.size()) request.headers.emplace_back();
    auto& [name, value] = request.headers[count++];
    name.assign(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    value.assign(field.value());
  }
  request.headers.resize(count);
  request.body = std::move(msg.body());
  ex.origin = request.Header("origin").value_or(std::string_view());

  api::Response response;
  if (Status parsed = ParseTarget(request.target, &request.path, &ex.encoded_path, &request.query);
      !parsed.ok()) {
    response = api::ErrorResponse(parsed, request.request_id);
    co_await Send(ex, response);
    co_return ex.keep_alive;
  }

  // Hand-off point for protocol upgrades: a GET with `Upgrade: websocket` on a WebSocket route
  // (Router::AddWebSocket) takes over socket_ from here and ends this HTTP loop. Other routes
  // ignore the Upgrade header and answer as plain HTTP below.
  if (msg.method() == bhttp::verb::get && beast::websocket::is_upgrade(msg)) {
    RouteMatch ws_match = shared_.router.Match("GET", ex.encoded_path, &request.path_params);
    if (ws_match.kind == RouteMatch::Kind::kFound && ws_match.websocket != nullptr) {
      ex.route_id = ws_match.route_id;
      co_await ServeWebSocket(ex, parser, *ws_match.websocket);
      co_return false;
    }
  }

  const Router& router = shared_.router;
  const CorsPolicy& cors = shared_.cors;
  if (cors.enabled()) {
    auto request_method = request.Header("access-control-request-method");
    if (CorsPolicy::IsPreflight(request.method, ex.origin, request_method.value_or(""))) {
      RouteMatch match = router.Match(*request_method, ex.encoded_path, nullptr);
      ex.route_id = match.route_id;
      if (match.kind == RouteMatch::Kind::kNotFound) {
        response =
            api::ErrorResponse(StatusCode::kNotFound, "no route for this path", request.request_id);
      } else {
        response.status = 204;
        response.content_type.clear();
        cors.AddPreflightHeaders(ex.origin, match.allow,
                                 request.Header("access-control-request-headers").value_or(""),
                                 response.headers);
      }
      co_await Send(ex, response);
      co_return ex.keep_alive;
    }
  }

  RouteMatch match = router.Match(request.method, ex.encoded_path, &request.path_params);
  ex.route_id = match.route_id;
  switch (match.kind) {
    case RouteMatch::Kind::kNotFound:
      response =
          api::ErrorResponse(StatusCode::kNotFound, "no route for this path", request.request_id);
      break;
    case RouteMatch::Kind::kMethodNotAllowed:
      response = api::ErrorResponse(StatusCode::kMethodNotAllowed,
                                    "method not allowed on this path", request.request_id);
      response.headers.emplace_back("Allow", std::string(match.allow));
      break;
    case RouteMatch::Kind::kFound:
      if (match.options.run_on_io_thread) {
        response = InvokeHandler(*match.handler, request);
      } else {
        const api::Handler* handler = match.handler;
        WorkerPool& pool = match.options.slow ? shared_.slow_pool : shared_.pool;
        bool ran = co_await RunOnWorker(
            pool, [handler, &request, &response] { response = InvokeHandler(*handler, request); });
        if (!ran) response = Overloaded(request.request_id);
      }
      break;
  }
  if (force_closed_) {
    RecordFinished(ex, 499, 0);
    co_return false;
  }
  // Stop() may have begun while the handler ran: tell the client this connection ends.
  if (WantsClose(response) || shared_.stopping.load(std::memory_order_relaxed)) {
    ex.keep_alive = false;
  }
  if (cors.enabled()) cors.AddResponseHeaders(ex.origin, response.headers);
  if (response.stream && !ex.head) {
    co_await SendStream(ex, response);
  } else {
    co_await Send(ex, response);
  }
  co_return ex.keep_alive;
}

asio::awaitable<void> Connection::SendError(RequestParser& parser, StatusCode code, int status,
                                            std::string message) {
  Exchange ex;
  ex.Reset();
  shared_.metrics.RequestStarted();
  ex.keep_alive = false;
  ex.request.remote_address = remote_address_;
  // Whatever of the header was parsed before the error (all of it for a too-large body).
  const auto& msg = parser.get();
  if (msg.version() == 10) ex.version = 10;
  ex.request.method.assign(msg.method_string());
  ex.request.target.assign(msg.target());
  auto incoming_id = msg["X-Request-ID"];
  if (IsValidRequestId(incoming_id)) {
    ex.request.request_id.assign(incoming_id);
  } else {
    NewRequestId(&ex.request.request_id);
  }
  api::Response response = api::ErrorResponse(code, message, ex.request.request_id);
  response.status = status;
  co_await Send(ex, response);
}

// ---- Connection: writing responses ----

asio::awaitable<void> Connection::Send(Exchange& ex, api::Response& response) {
  if (response.status < 100 || response.status > 999) {
    spdlog::error("request {}: handler returned invalid status {}", ex.request.request_id,
                  response.status);
    response = api::ErrorResponse(StatusCode::kInternal, "internal error", ex.request.request_id);
  }
  bool bodiless = IsBodilessStatus(response.status);
  ResponseHeadInfo info;
  info.version = ex.version;
  info.status = response.status;
  info.request_id = ex.request.request_id;
  info.keep_alive = ex.keep_alive;
  // A HEAD answer for a streamed route cannot know its length: no framing header at all.
  if (!bodiless && !(ex.head && response.stream)) info.content_length = response.body.size();
  head_.clear();
  if (int dropped = AppendResponseHead(response, info, &head_); dropped > 0) {
    spdlog::warn("request {}: dropped {} unsafe response header(s)", ex.request.request_id,
                 dropped);
  }
  std::string_view body = ex.head || bodiless ? std::string_view() : response.body;
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_),
                                            asio::buffer(body.data(), body.size())};
  SetDeadline(shared_.options.write_timeout_ms);
  auto [ec, n] = co_await asio::async_write(socket_, buffers, kTuple);
  ClearDeadline();
  int status = response.status;
  if (ec) {
    ex.keep_alive = false;
    status = 499;
  }
  RecordFinished(ex, status, body.size());
}

asio::awaitable<void> Connection::SendStream(Exchange& ex, api::Response& response) {
  auto bridge = std::make_shared<StreamBridge>(executor(), socket_.native_handle());
  bool posted = shared_.slow_pool.TryPost(WorkerPool::Task(
      [bridge, produce = std::move(response.stream), id = ex.request.request_id](bool run) mutable {
        bool failed = false;
        if (run) {
          try {
            produce(*bridge);
          } catch (const std::exception& e) {
            spdlog::error("request {}: stream producer threw: {}", id, e.what());
            failed = true;
          } catch (...) {
            spdlog::error("request {}: stream producer threw a non-standard exception", id);
            failed = true;
          }
        }
        bridge->Finish(run, failed);
      }));
  if (!posted) {
    api::Response busy = Overloaded(ex.request.request_id);
    shared_.cors.AddResponseHeaders(ex.origin, busy.headers);
    co_await Send(ex, busy);
    co_return;
  }
  active_stream_ = bridge;

  ResponseHeadInfo info;
  info.version = ex.version;
  info.status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  info.request_id = ex.request.request_id;
  info.keep_alive = ex.keep_alive;
  info.chunked = true;
  head_.clear();
  AppendResponseHead(response, info, &head_);
  SetDeadline(shared_.options.write_timeout_ms);
  auto [head_ec, head_n] = co_await asio::async_write(socket_, asio::buffer(head_), kTuple);
  ClearDeadline();
  if (head_ec) bridge->MarkGone();

  uint64_t bytes = 0;
  char size_line[24];
  static constexpr std::string_view kCrlf = "\r\n";
  for (;;) {
    std::string_view chunk;
    StreamBridge::Next next = bridge->Poll(&chunk);
    if (next == StreamBridge::Next::kDone) break;
    if (next == StreamBridge::Next::kChunk) {
      auto [end, to_chars_ec] = std::to_chars(size_line, size_line + 16, chunk.size(), 16);
      end[0] = '\r';
      end[1] = '\n';
      std::array<asio::const_buffer, 3> buffers{
          asio::buffer(size_line, static_cast<size_t>(end + 2 - size_line)),
          asio::buffer(chunk.data(), chunk.size()), asio::buffer(kCrlf.data(), kCrlf.size())};
      SetDeadline(shared_.options.write_timeout_ms);
      auto [ec, n] = co_await asio::async_write(socket_, buffers, kTuple);
      ClearDeadline();
      if (!ec) bytes += chunk.size();
      bridge->ChunkWritten(!ec);
      continue;
    }
    bridge->wake_timer().expires_at(asio::steady_timer::time_point::max());
    co_await bridge->wake_timer().async_wait(kTuple);  // woken by cancel()
  }
  int status = info.status;
  if (!bridge->gone() && bridge->completed()) {
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    SetDeadline(shared_.options.write_timeout_ms);
    auto [ec, n] = co_await asio::async_write(
        socket_, asio::buffer(kLastChunk.data(), kLastChunk.size()), kTuple);
    ClearDeadline();
    if (ec) {
      ex.keep_alive = false;
      status = 499;
    }
  } else {
    // Cut short: end the connection without the last chunk so the client sees a truncated body.
    ex.keep_alive = false;
    if (bridge->gone()) status = 499;
  }
  bridge->DetachSocket();
  active_stream_.reset();
  RecordFinished(ex, status, bytes);
}

namespace {

// True if a WebSocket upgrade from `origin` may be accepted: no Origin (not a browser), the
// page's own host, or an origin CORS allows. Browsers let any page open a WebSocket to any host
// without a preflight, so this is what keeps another site's page away from a local jrvs.
bool OriginAllowed(std::string_view origin, std::string_view host, const CorsPolicy& cors) {
  if (origin.empty() || cors.Allows(origin)) return true;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() > scheme.size() && IEquals(origin.substr(0, scheme.size()), scheme)) {
      return !host.empty() && IEquals(origin.substr(scheme.size()), host);
    }
  }
  return false;
}

}  // namespace

asio::awaitable<void> Connection::ServeWebSocket(Exchange& ex, RequestParser& parser,
                                                 const api::WebSocketHandler& handler) {
  api::Request& request = ex.request;
  ex.keep_alive = false;
  // A client may not send frames before our 101; bytes already read past the request are a
  // protocol error, not something to hand to the session.
  if (buffer_.size() > 0) {
    api::Response bad = api::ErrorResponse(StatusCode::kInvalidArgument,
                                           "data sent before the WebSocket handshake completed",
                                           request.request_id);
    co_await Send(ex, bad);
    co_return;
  }
  if (!OriginAllowed(ex.origin, request.Header("host").value_or(""), shared_.cors)) {
    api::Response forbidden = api::ErrorResponse(
        StatusCode::kPermissionDenied, "WebSocket origin not allowed", request.request_id);
    forbidden.status = 403;
    co_await Send(ex, forbidden);
    co_return;
  }
  if (shared_.websocket_sessions.fetch_add(1) >= shared_.options.max_websocket_sessions ||
      shared_.stopping.load()) {
    shared_.websocket_sessions.fetch_sub(1);
    api::Response busy = Overloaded(request.request_id);
    co_await Send(ex, busy);
    co_return;
  }
  struct Release {
    std::atomic<size_t>& count;
    ~Release() { count.fetch_sub(1); }
  } release{shared_.websocket_sessions};

  std::unique_ptr<api::WebSocketConversation> conversation;
  try {
    conversation = handler(request);
  } catch (const std::exception& e) {
    spdlog::error("request {}: WebSocket handler for {} threw: {}", request.request_id,
                  request.path, e.what());
  } catch (...) {
    spdlog::error("request {}: WebSocket handler for {} threw", request.request_id, request.path);
  }
  if (!conversation) {
    api::Response error =
        api::ErrorResponse(StatusCode::kInternal, "internal error", request.request_id);
    co_await Send(ex, error);
    co_return;
  }
  websocket_ = std::make_shared<WebSocketSession>(*this, socket_, shared_, request.request_id);
  bool accepted = co_await websocket_->Accept(parser.get());
  RecordFinished(ex, accepted ? 101 : 499, 0);
  if (accepted && !force_closed_) co_await websocket_->Run(std::move(conversation));
  websocket_.reset();
  // Nothing to drain: the close handshake is over or the client is gone.
  Shut();
}

void Connection::RecordFinished(const Exchange& ex, int status, uint64_t bytes) {
  double seconds = SecondsSince(ex.started);
  shared_.metrics.RequestFinished(ex.route_id, ex.request.method, status, seconds);
  if (shared_.options.access_log) {
    LogAccess({ex.request.method, ex.request.target, status, bytes, seconds * 1000.0,
               ex.request.request_id, remote_address_});
  }
}

asio::awaitable<void> Connection::CloseGracefully() {
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec && !force_closed_) {
    SetDeadline(kLingerMs);
    idle_ = true;
    size_t drained = 0;
    while (drained < kLingerMaxBytes) {
      buffer_.clear();
      auto [rec, n] = co_await socket_.async_read_some(buffer_.prepare(kReadChunk), kTuple);
      if (rec) break;
      drained += n;
    }
    idle_ = false;
    ClearDeadline();
  }
  socket_.close(ec);
}

}  // namespace jrvs::http::internal
