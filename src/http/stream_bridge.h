// Internal to http/ (includes Boost): the api::StreamSink handed to a streaming producer, bridging
// its worker thread and the connection's coroutine. Write() publishes a view of the producer's
// bytes and blocks until the coroutine has written them (no copy; back-pressure) or the client is
// gone. The coroutine polls with Poll() and sleeps on wake_timer() between chunks.
//
// Thread safety: Write(), ClientGone() and Finish() are for the producer's thread; the other
// methods for the connection's thread. Internal state is guarded by one mutex.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/http_types.h"

namespace jrvs::http::internal {

class StreamBridge final : public api::StreamSink,
                           public std::enable_shared_from_this<StreamBridge> {
 public:
  enum class Next { kChunk, kDone, kWait };

  // `fd` is the connection's socket, peeked (never read) by ClientGone(); the connection keeps it
  // open until DetachSocket().
  StreamBridge(const boost::asio::any_io_executor& executor, int fd);

  // ---- producer side ----
  bool Write(std::string_view bytes) override;
  bool ClientGone() const override;
  // Called once when the producer is done: `ran` false if it never ran, `failed` if it threw.
  void Finish(bool ran, bool failed);

  // ---- connection side ----
  // kChunk: `*chunk` must be written, then ChunkWritten() called. kWait: sleep on wake_timer().
  Next Poll(std::string_view* chunk);
  void ChunkWritten(bool ok);
  // The client left or the server is closing: writes fail from now on.
  void MarkGone();
  void DetachSocket();
  bool gone() const;
  bool completed() const;  // the producer returned normally
  boost::asio::steady_timer& wake_timer() { return wake_; }

 private:
  enum class Slot { kEmpty, kPending, kTaken };
  void Wake();

  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer wake_;  // the coroutine sleeps on it; cancel() wakes it (its thread)
  mutable std::mutex mu_;           // guards everything below
  std::condition_variable cv_;
  int fd_;
  std::string_view pending_;  // the producer's bytes while slot_ != kEmpty
  Slot slot_ = Slot::kEmpty;
  bool last_write_ok_ = true;
  bool gone_ = false;
  bool done_ = false;
  bool ran_ = false;
  bool failed_ = false;
};

}  // namespace jrvs::http::internal
