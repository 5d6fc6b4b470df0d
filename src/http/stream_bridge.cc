#include "http/stream_bridge.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/post.hpp>

namespace jrvs::http::internal {

StreamBridge::StreamBridge(const boost::asio::any_io_executor& executor, int fd)
    : executor_(executor), wake_(executor), fd_(fd) {}

bool StreamBridge::Write(std::string_view bytes) {
  std::unique_lock lock(mu_);
  if (gone_) return false;
  if (bytes.empty()) return true;  // an empty chunk would end the chunked body
  pending_ = bytes;
  slot_ = Slot::kPending;
  lock.unlock();
  Wake();
  lock.lock();
  cv_.wait(lock, [this] { return slot_ == Slot::kEmpty || (gone_ && slot_ == Slot::kPending); });
  if (slot_ == Slot::kPending) {  // the client left before the bytes were taken
    slot_ = Slot::kEmpty;
    return false;
  }
  return last_write_ok_;
}

bool StreamBridge::ClientGone() const {
  std::lock_guard lock(mu_);
  if (gone_ || fd_ < 0) return true;
  // A peer that closed shows as end-of-file to a non-consuming peek; pipelined bytes do not.
  char c;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void StreamBridge::Finish(bool ran, bool failed) {
  {
    std::lock_guard lock(mu_);
    done_ = true;
    ran_ = ran;
    failed_ = failed;
  }
  Wake();
}

StreamBridge::Next StreamBridge::Poll(std::string_view* chunk) {
  std::lock_guard lock(mu_);
  if (slot_ == Slot::kPending && !gone_) {
    slot_ = Slot::kTaken;
    *chunk = pending_;
    return Next::kChunk;
  }
  return done_ ? Next::kDone : Next::kWait;
}

void StreamBridge::ChunkWritten(bool ok) {
  std::lock_guard lock(mu_);
  slot_ = Slot::kEmpty;
  last_write_ok_ = ok;
  if (!ok) gone_ = true;
  cv_.notify_all();
}

void StreamBridge::MarkGone() {
  {
    std::lock_guard lock(mu_);
    gone_ = true;
    cv_.notify_all();
  }
  wake_.cancel();
}

void StreamBridge::DetachSocket() {
  std::lock_guard lock(mu_);
  fd_ = -1;
}

bool StreamBridge::gone() const {
  std::lock_guard lock(mu_);
  return gone_;
}

bool StreamBridge::completed() const {
  std::lock_guard lock(mu_);
  return done_ && ran_ && !failed_;
}

void StreamBridge::Wake() {
  // The timer belongs to the connection's thread: cancel it there. A wake that finds the
  // coroutine busy is harmless: it polls before it sleeps again.
  boost::asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
}

}  // namespace jrvs::http::internal
