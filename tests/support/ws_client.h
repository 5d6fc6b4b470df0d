// Blocking WebSocket client for tests (Boost.Beast underneath, kept out of this header). Every
// operation has a timeout, so a broken server fails a test instead of hanging it. Not
// thread-safe: use one object per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "support/http_client.h"

namespace jrvs::testing {

class WsClient {
 public:
  WsClient(std::string host, uint16_t port,
           std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects and upgrades `target` (e.g. "/ws/chat"), sending `headers` with the upgrade request.
  // A refused upgrade is an error; handshake_status() then holds the HTTP status (403, 426, ...).
  Status Connect(std::string_view target, const HttpHeaders& headers = {});
  // Sends one text message.
  Status Send(std::string_view text);
  // The next message. kDeadlineExceeded if none arrives within the timeout (the connection is
  // dropped then); kUnavailable once the server closed (see close_code()) or the connection broke.
  Result<std::string> Receive();
  // Close handshake with code 1000; waits for the server's close.
  Status Close();
  // Drops the TCP connection without a close frame (a client that vanishes).
  void Abort();

  int handshake_status() const;  // HTTP status of the last upgrade answer; 0 if none was read
  int close_code() const;        // the server's close code once it closed; 0 before
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::testing
