// Blocking HTTP/1.1 client and raw TCP connection for tests (Boost.Beast underneath, kept out of
// this header). Every operation has a timeout, so a broken server fails a test instead of hanging
// it. Not thread-safe: use one object per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jrvs::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-case; repeated ones joined by ", "
  std::string body;
  bool keep_alive = true;  // false if the server announced it closes the connection

  // The value of a header ("" if absent); `name` is lower-case.
  std::string Header(const std::string& name) const;
  bool HasHeader(const std::string& name) const { return headers.count(name) > 0; }
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One persistent keep-alive connection, opened on first use and reopened by the next request
// after the server closed it (never silently in the middle of a request: a request on a
// connection the server dropped fails). local_port() tells whether a connection was reused.
class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request and reads the whole response. A Content-Length is sent when `body` is not
  // empty or the method is POST, PUT or PATCH. Transport failures (refused, reset, timeout) are
  // errors; HTTP error statuses are responses.
  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               std::string_view body = {}, const HttpHeaders& headers = {});
  Result<HttpResponse> Get(std::string_view target, const HttpHeaders& headers = {});
  // With Content-Type application/json unless `headers` has one.
  Result<HttpResponse> Post(std::string_view target, std::string_view body,
                            const HttpHeaders& headers = {});

  // Pipelining: Send() writes a request without waiting; Receive() reads the next response
  // (`head` = it answers a HEAD request, so it has no body).
  Status Send(std::string_view method, std::string_view target, std::string_view body = {},
              const HttpHeaders& headers = {});
  Result<HttpResponse> Receive(bool head = false);

  // Sends a request and reads a chunked response as it arrives: `on_chunk` gets each complete
  // chunk; returning false closes the connection (a client walking away). The returned response
  // has the status and headers (and the body if the response was not chunked).
  Result<HttpResponse> Stream(std::string_view method, std::string_view target,
                              std::string_view body, const HttpHeaders& headers,
                              const std::function<bool(std::string_view chunk)>& on_chunk);

  Status Connect();  // no-op when already connected
  void Close();
  Status Reconnect();
  bool connected() const;
  uint16_t local_port() const;  // of the current connection; 0 when not connected
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A plain TCP connection for tests that send malformed or slow bytes and watch how the server
// reacts. Timeouts on reads leave the connection open.
class RawConnection {
 public:
  RawConnection(std::string host, uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  Status Connect(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Writes all of `bytes`; an error once the peer has closed or reset the connection.
  Status Send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  struct ReadResult {
    std::string data;     // everything received during the call
    bool closed = false;  // the peer closed or reset the connection before the timeout
  };
  // Reads until the peer closes, or `timeout` passes.
  ReadResult ReadUntilClose(std::chrono::milliseconds timeout);
  // Reads until `needle` has been received (counting bytes from earlier calls not yet returned),
  // the peer closes, or `timeout` passes. Bytes after the needle are kept for the next call.
  ReadResult ReadUntil(std::string_view needle, std::chrono::milliseconds timeout);

  void Close();
  bool is_open() const;
  uint16_t local_port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jrvs::testing
