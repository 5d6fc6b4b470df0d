#include "support/http_client.h"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace jrvs::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

Status TransportError(std::string_view what, const beast::error_code& ec) {
  return Status(StatusCode::kUnavailable, std::string(what) + ": " + ec.message());
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<tcp::endpoint> Resolve(asio::io_context& ioc, const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) return Error(TransportError("resolve " + host, ec));
  return results.begin()->endpoint();
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

// ---- HttpClient ----

class HttpClient::Impl {
 public:
  Impl(std::string host, uint16_t port, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}

  // Runs one asynchronous operation started by `start(handler)` to completion.
  template <typename Start>
  beast::error_code RunOp(Start&& start) {
    beast::error_code result = asio::error::would_block;
    stream_.expires_after(timeout_);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  Status Connect() {
    if (connected_) return Status::Ok();
    auto endpoint = Resolve(ioc_, host_, port_);
    if (!endpoint) return endpoint.error();
    buffer_.clear();
    auto ec = RunOp([&](auto handler) { stream_.async_connect(*endpoint, std::move(handler)); });
    if (ec) return TransportError("connect", ec);
    connected_ = true;
    return Status::Ok();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    connected_ = false;
    buffer_.clear();
  }

  Status Send(std::string_view method, std::string_view target, std::string_view body,
              const HttpHeaders& headers) {
    if (Status s = Connect(); !s.ok()) return s;
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
    for (const auto& [name, value] : headers) req.insert(name, value);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.body() = std::string(body);
      req.prepare_payload();
    }
    auto ec = RunOp([&](auto handler) { bhttp::async_write(stream_, req, std::move(handler)); });
    if (ec) {
      // The server may have answered (413) and stopped reading; keep the connection so the
      // caller can still read that answer.
      if (ec == beast::error::timeout) connected_ = false;
      return TransportError("write", ec);
    }
    return Status::Ok();
  }

  HttpResponse Convert(const bhttp::response<bhttp::string_body>& res) {
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name = Lower(field.name_string());
      auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    out.body = res.body();
    out.keep_alive = res.keep_alive();
    return out;
  }

  Result<HttpResponse> Receive(bool head) {
    if (!connected_) return Error(StatusCode::kUnavailable, "not connected");
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    parser.skip(head);
    auto ec = RunOp(
        [&](auto handler) { bhttp::async_read(stream_, buffer_, parser, std::move(handler)); });
    if (ec) {
      Close();
      return Error(TransportError("read", ec));
    }
    HttpResponse out = Convert(parser.get());
    if (!out.keep_alive) Close();
    return out;
  }

  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               std::string_view body, const HttpHeaders& headers) {
    Status sent = Send(method, target, body, headers);
    if (!sent.ok()) {
      if (!connected_) return Error(sent);
      auto answer = Receive(method == "HEAD");  // e.g. a 413 sent before the body was read
      if (answer) return answer;
      return Error(sent);
    }
    return Receive(method == "HEAD");
  }

  Result<HttpResponse> Stream(std::string_view method, std::string_view target,
                              std::string_view body, const HttpHeaders& headers,
                              const std::function<bool(std::string_view)>& on_chunk) {
    if (Status s = Send(method, target, body, headers); !s.ok()) return Error(s);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    std::string current;
    bool stopped = false;
    auto chunk_body = [&](std::uint64_t remain, std::string_view data,
                          beast::error_code& ec) -> std::size_t {
      current.append(data);
      if (remain == data.size()) {
        bool more = on_chunk(current);
        current.clear();
        if (!more) {
          stopped = true;
          ec = asio::error::operation_aborted;
        }
      }
      return data.size();
    };
    parser.on_chunk_body(chunk_body);
    auto ec = RunOp([&](auto handler) {
      bhttp::async_read_header(stream_, buffer_, parser, std::move(handler));
    });
    if (ec) {
      Close();
      return Error(TransportError("read header", ec));
    }
    HttpResponse head;
    head.status = static_cast<int>(parser.get().result_int());
    // Read the body chunk by chunk so each chunk reaches on_chunk as soon as it arrives.
    while (!parser.is_done()) {
      ec = RunOp([&](auto handler) {
        bhttp::async_read_some(stream_, buffer_, parser, std::move(handler));
      });
      if (stopped) {
        Close();
        break;
      }
      if (ec) {
        Close();
        return Error(TransportError("read body", ec));
      }
    }
    HttpResponse out = Convert(parser.get());
    if (!out.keep_alive && connected_) Close();
    return out;
  }

  uint16_t local_port() const {
    if (!connected_) return 0;
    beast::error_code ec;
    auto endpoint = stream_.socket().local_endpoint(ec);
    return ec ? 0 : endpoint.port();
  }

  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(host), port, timeout)) {}
HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view target,
                                         std::string_view body, const HttpHeaders& headers) {
  return impl_->Request(method, target, body, headers);
}

Result<HttpResponse> HttpClient::Get(std::string_view target, const HttpHeaders& headers) {
  return impl_->Request("GET", target, {}, headers);
}

Result<HttpResponse> HttpClient::Post(std::string_view target, std::string_view body,
                                      const HttpHeaders& headers) {
  HttpHeaders all = headers;
  bool has_type = false;
  for (const auto& [name, value] : headers) has_type |= Lower(name) == "content-type";
  if (!has_type) all.emplace_back("Content-Type", "application/json");
  return impl_->Request("POST", target, body, all);
}

Status HttpClient::Send(std::string_view method, std::string_view target, std::string_view body,
                        const HttpHeaders& headers) {
  return impl_->Send(method, target, body, headers);
}

Result<HttpResponse> HttpClient::Receive(bool head) { return impl_->Receive(head); }

Result<HttpResponse> HttpClient::Stream(std::string_view method, std::string_view target,
                                        std::string_view body, const HttpHeaders& headers,
                                        const std::function<bool(std::string_view)>& on_chunk) {
  return impl_->Stream(method, target, body, headers, on_chunk);
}

Status HttpClient::Connect() { return impl_->Connect(); }
void HttpClient::Close() { impl_->Close(); }
Status HttpClient::Reconnect() {
  impl_->Close();
  return impl_->Connect();
}
bool HttpClient::connected() const { return impl_->connected_; }
uint16_t HttpClient::local_port() const { return impl_->local_port(); }
void HttpClient::set_timeout(std::chrono::milliseconds timeout) { impl_->timeout_ = timeout; }

// ---- RawConnection ----

class RawConnection::Impl {
 public:
  Impl(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}

  // Runs `start(handler)` until it completes or `timeout` passes (then the operation is cancelled
  // and the socket stays open). Returns the operation's error and byte count.
  template <typename Start>
  std::pair<beast::error_code, size_t> RunOp(Start&& start, std::chrono::milliseconds timeout) {
    std::optional<beast::error_code> result;
    size_t bytes = 0;
    bool timed_out = false;
    asio::steady_timer timer(ioc_, timeout);
    timer.async_wait([&](beast::error_code ec) {
      if (!ec && !result) {
        timed_out = true;
        beast::error_code ignored;
        socket_.cancel(ignored);
      }
    });
    start([&](beast::error_code ec, size_t n) {
      result = ec;
      bytes = n;
      timer.cancel();
    });
    ioc_.restart();
    ioc_.run();
    if (timed_out) return {beast::error::timeout, bytes};
    return {result.value_or(asio::error::operation_aborted), bytes};
  }

  ReadResult Read(std::string_view needle, std::chrono::milliseconds timeout) {
    ReadResult out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!needle.empty()) {
        size_t pos = pending_.find(needle);
        if (pos != std::string::npos) {
          out.data = pending_.substr(0, pos + needle.size());
          pending_.erase(0, pos + needle.size());
          return out;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !socket_.is_open()) break;
      char buf[16 * 1024];
      auto [ec, n] = RunOp(
          [&](auto handler) { socket_.async_read_some(asio::buffer(buf), std::move(handler)); },
          left);
      pending_.append(buf, n);
      if (ec == beast::error::timeout) break;
      if (ec) {
        out.closed = true;
        break;
      }
    }
    out.data += pending_;
    pending_.clear();
    return out;
  }

  std::string host_;
  uint16_t port_;
  asio::io_context ioc_;
  tcp::socket socket_{ioc_};
  std::string pending_;  // received but not yet returned
};

RawConnection::RawConnection(std::string host, uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(host), port)) {}
RawConnection::~RawConnection() = default;

Status RawConnection::Connect(std::chrono::milliseconds timeout) {
  auto endpoint = Resolve(impl_->ioc_, impl_->host_, impl_->port_);
  if (!endpoint) return endpoint.error();
  Close();
  auto [ec, n] = impl_->RunOp(
      [&](auto handler) {
        impl_->socket_.async_connect(
            *endpoint, [h = std::move(handler)](beast::error_code e) mutable { h(e, 0); });
      },
      timeout);
  if (ec) return TransportError("connect", ec);
  return Status::Ok();
}

Status RawConnection::Send(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (!impl_->socket_.is_open()) return Status(StatusCode::kUnavailable, "not connected");
  auto [ec, n] = impl_->RunOp(
      [&](auto handler) {
        asio::async_write(impl_->socket_, asio::buffer(bytes.data(), bytes.size()),
                          std::move(handler));
      },
      timeout);
  if (ec) return TransportError("send", ec);
  return Status::Ok();
}

RawConnection::ReadResult RawConnection::ReadUntilClose(std::chrono::milliseconds timeout) {
  return impl_->Read({}, timeout);
}

RawConnection::ReadResult RawConnection::ReadUntil(std::string_view needle,
                                                   std::chrono::milliseconds timeout) {
  return impl_->Read(needle, timeout);
}

void RawConnection::Close() {
  beast::error_code ec;
  impl_->socket_.close(ec);
  impl_->pending_.clear();
}

bool RawConnection::is_open() const { return impl_->socket_.is_open(); }

uint16_t RawConnection::local_port() const {
  beast::error_code ec;
  auto endpoint = impl_->socket_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

}  // namespace jrvs::testing
