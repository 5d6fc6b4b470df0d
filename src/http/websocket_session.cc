#include "http/websocket_session.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "http/connection.h"

namespace jrvs::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// How long our close frame and the client's answer may take (Stop(), session end). A client that
// never reads must not hold Stop() for the whole grace period.
constexpr int64_t kCloseHandshakeMs = 1000;

// Errors the http layer itself reports, in the api layer's error frame shape.
std::string ErrorFrame(StatusCode code, std::string_view message) {
  return fmt::format(R"({{"type":"error","code":"{}","message":"{}"}})", StatusCodeName(code),
                     message);
}

}  // namespace

// The MessageSink of a session: a FIFO of frames to write. Producers (a slow-pool worker, or the
// connection thread for the session's own errors) append; the writer coroutine writes the front
// and pops it. Front references stay valid while others are appended (std::deque).
class WebSocketSession::Outbox final : public api::MessageSink {
 public:
  explicit Outbox(WebSocketSession& session) : session_(session) {}

  // Producer side (a worker thread).
  bool Send(std::string_view text) override {
    std::unique_lock lock(mu_);
    if (gone_flag_.load()) return false;
    uint64_t ticket = ++queued_;
    messages_.emplace_back(text);
    lock.unlock();
    Wake();
    lock.lock();
    cv_.wait(lock, [&] { return written_ >= ticket || gone_flag_.load(); });
    return !gone_flag_.load();
  }
  const std::atomic<bool>& gone() const override { return gone_flag_; }

  // Connection side.
  void Push(std::string text) {  // without waiting (the session's own error frames)
    std::lock_guard lock(mu_);
    if (gone_flag_.load()) return;
    ++queued_;
    messages_.push_back(std::move(text));
  }
  const std::string* Front() {
    std::lock_guard lock(mu_);
    return messages_.empty() ? nullptr : &messages_.front();
  }
  void PopFront(bool written) {
    std::lock_guard lock(mu_);
    messages_.pop_front();
    ++written_;
    if (!written) gone_flag_.store(true);
    cv_.notify_all();
  }
  void MarkGone() {
    std::lock_guard lock(mu_);
    gone_flag_.store(true);
    cv_.notify_all();
  }
  bool empty() {
    std::lock_guard lock(mu_);
    return messages_.empty();
  }

 private:
  void Wake() {
    // The timer belongs to the connection's thread: cancel it there. A wake that finds the writer
    // busy is harmless: it looks at the outbox before it sleeps again.
    asio::post(session_.wake_.get_executor(),
               [self = session_.shared_from_this()] { self->wake_.cancel(); });
  }

  WebSocketSession& session_;
  std::mutex mu_;  // guards messages_, queued_, written_ (and orders gone_flag_ with cv_)
  std::condition_variable cv_;
  std::deque<std::string> messages_;
  uint64_t queued_ = 0;   // frames ever appended
  uint64_t written_ = 0;  // frames ever popped by the writer
  std::atomic<bool> gone_flag_{false};
};

WebSocketSession::WebSocketSession(Connection& connection, asio::ip::tcp::socket& socket,
                                   ServerShared& shared, std::string request_id)
    : connection_(connection),
      shared_(shared),
      request_id_(std::move(request_id)),
      ws_(socket),
      wake_(socket.get_executor()),
      outbox_(std::make_shared<Outbox>(*this)) {}

WebSocketSession::~WebSocketSession() = default;

asio::awaitable<bool> WebSocketSession::Accept(const UpgradeRequest& upgrade) {
  ws_.read_message_max(shared_.options.ws_max_message_bytes);
  ws_.set_option(
      websocket::stream_base::decorator([id = request_id_](websocket::response_type& response) {
        response.set("X-Request-ID", id);
      }));
  connection_.SetDeadline(shared_.options.write_timeout_ms);
  auto [ec] = co_await ws_.async_accept(upgrade, kTuple);
  connection_.ClearDeadline();
  co_return !ec;
}

asio::awaitable<void> WebSocketSession::Run(
    std::unique_ptr<api::WebSocketConversation> conversation) {
  conversation_ = std::move(conversation);
  UpdateDeadline();
  asio::co_spawn(wake_.get_executor(), ReadLoop(shared_from_this()), asio::detached);
  // The writer: runs until the reader has ended and no handler is running any more.
  for (;;) {
    if (const std::string* frame = outbox_->Front()) {
      bool ok = false;
      if (!outbox_->gone().load() && !reader_done_) {
        writing_ = true;
        connection_.SetDeadline(shared_.options.write_timeout_ms);
        ws_.text(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(*frame), kTuple);
        writing_ = false;
        ok = !ec;
      }
      outbox_->PopFront(ok);
      UpdateDeadline();
      continue;
    }
    if (reader_done_ && !turn_active_) break;
    if (ShouldClose()) {
      close_sent_ = true;
      writing_ = true;
      connection_.SetDeadline(std::min(shared_.options.write_timeout_ms, kCloseHandshakeMs));
      // The reader's pending read completes once the client answers the close.
      co_await ws_.async_close(websocket::close_code::going_away, kTuple);
      writing_ = false;
      continue;
    }
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(kTuple);  // woken by cancel()
  }
  connection_.ClearDeadline();
}

asio::awaitable<void> WebSocketSession::ReadLoop(std::shared_ptr<WebSocketSession> self) {
  beast::flat_buffer in;
  for (;;) {
    auto [ec, n] = co_await self->ws_.async_read(in, kTuple);
    if (ec) break;  // closed by the client or by us, too large (1009), timed out, or reset
    if (self->pending_.size() >= kMaxPendingMessages) {
      self->outbox_->Push(
          ErrorFrame(StatusCode::kUnavailable, "too many messages waiting; wait for the answers"));
      self->wake_.cancel();
    } else {
      self->pending_.push_back(beast::buffers_to_string(in.data()));
      self->StartNextTurn();
    }
    in.consume(in.size());
    self->UpdateDeadline();
  }
  self->reader_done_ = true;
  self->outbox_->MarkGone();  // cancels the running handler's model call
  self->wake_.cancel();
}

void WebSocketSession::StartNextTurn() {
  if (turn_active_ || pending_.empty() || reader_done_) return;
  turn_active_ = true;
  std::string text = std::move(pending_.front());
  pending_.pop_front();
  // Called with run=false at once if the pool is full (or later if Stop() cancels it).
  shared_.slow_pool.TryPost(WorkerPool::Task([self = shared_from_this(),
                                              text = std::move(text)](bool run) {
    bool failed = false;
    if (run) {
      try {
        self->conversation_->OnMessage(text, *self->outbox_);
      } catch (const std::exception& e) {
        spdlog::error("request {}: WebSocket handler threw: {}", self->request_id_, e.what());
        failed = true;
      } catch (...) {
        spdlog::error("request {}: WebSocket handler threw a non-standard exception",
                      self->request_id_);
        failed = true;
      }
    }
    asio::post(self->wake_.get_executor(), [self, run, failed] { self->TurnDone(run, failed); });
  }));
}

void WebSocketSession::TurnDone(bool ran, bool failed) {
  turn_active_ = false;
  if (!ran) {
    outbox_->Push(ErrorFrame(StatusCode::kUnavailable, "server overloaded, retry later"));
  } else if (failed) {
    outbox_->Push(ErrorFrame(StatusCode::kInternal, "internal error"));
  }
  StartNextTurn();
  UpdateDeadline();
  wake_.cancel();
}

void WebSocketSession::UpdateDeadline() {
  if (writing_) return;  // the write's own deadline stands; the writer calls again afterwards
  if (turn_active_ || !pending_.empty() || !outbox_->empty()) {
    connection_.ClearDeadline();  // an answer may take as long as the model takes
  } else {
    connection_.SetDeadline(shared_.options.ws_idle_timeout_ms);
  }
}

bool WebSocketSession::ShouldClose() const {
  bool stopping = close_requested_ || shared_.stopping.load(std::memory_order_relaxed);
  return stopping && !close_sent_ && !reader_done_ && !turn_active_ && pending_.empty();
}

void WebSocketSession::CloseIfIdle() {
  close_requested_ = true;
  wake_.cancel();
}

void WebSocketSession::ForceClose() {
  outbox_->MarkGone();
  wake_.cancel();
}

}  // namespace jrvs::http::internal
