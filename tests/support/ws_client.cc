#include "support/ws_client.h"

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace jrvs::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class WsClient::Impl {
 public:
  Impl(std::string host, uint16_t port, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}

  // Runs one asynchronous operation started by `start(handler)` to completion or the timeout
  // (the tcp_stream closes the socket when it expires, failing the operation).
  template <typename Start>
  beast::error_code RunOp(Start&& start) {
    beast::error_code result = asio::error::would_block;
    beast::get_lowest_layer(*ws_).expires_after(timeout_);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  Status Error(std::string_view what, const beast::error_code& ec) const {
    StatusCode code =
        ec == beast::error::timeout ? StatusCode::kDeadlineExceeded : StatusCode::kUnavailable;
    return Status(code, std::string(what) + ": " + ec.message());
  }

  Status Connect(std::string_view target, const HttpHeaders& headers) {
    ws_.emplace(ioc_);
    handshake_status_ = 0;
    close_code_ = 0;
    beast::error_code ec;
    auto address = asio::ip::make_address(host_, ec);
    if (ec) return Status(StatusCode::kInvalidArgument, "host must be an IP literal: " + host_);
    tcp::endpoint endpoint(address, port_);
    ec = RunOp([&](auto handler) {
      beast::get_lowest_layer(*ws_).async_connect(endpoint, std::move(handler));
    });
    if (ec) return Error("connect", ec);
    ws_->set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [name, value] : headers) req.set(name, value);
    }));
    websocket::response_type response;
    std::string host = host_ + ":" + std::to_string(port_);
    ec = RunOp(
        [&](auto handler) { ws_->async_handshake(response, host, target, std::move(handler)); });
    handshake_status_ = static_cast<int>(response.result_int());
    if (ec) return Error("handshake", ec);
    ws_->text(true);
    return Status::Ok();
  }

  Status Send(std::string_view text) {
    if (!ws_) return Status(StatusCode::kFailedPrecondition, "not connected");
    auto ec = RunOp([&](auto handler) {
      ws_->async_write(asio::buffer(text.data(), text.size()), std::move(handler));
    });
    return ec ? Error("send", ec) : Status::Ok();
  }

  Result<std::string> Receive() {
    if (!ws_) return jrvs::Error(StatusCode::kFailedPrecondition, "not connected");
    beast::flat_buffer buffer;
    auto ec = RunOp([&](auto handler) { ws_->async_read(buffer, std::move(handler)); });
    if (ec) {
      // Also when answering the server's close failed because it had already hung up.
      if (ws_->reason().code != websocket::close_code::none) close_code_ = ws_->reason().code;
      return jrvs::Error(Error("receive", ec));
    }
    return beast::buffers_to_string(buffer.data());
  }

  Status Close() {
    if (!ws_) return Status::Ok();
    auto ec = RunOp(
        [&](auto handler) { ws_->async_close(websocket::close_code::normal, std::move(handler)); });
    return ec ? Error("close", ec) : Status::Ok();
  }

  void Abort() {
    if (!ws_) return;
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(*ws_).close();
  }

  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  asio::io_context ioc_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  int handshake_status_ = 0;
  int close_code_ = 0;
};

WsClient::WsClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(host), port, timeout)) {}
WsClient::~WsClient() = default;

Status WsClient::Connect(std::string_view target, const HttpHeaders& headers) {
  return impl_->Connect(target, headers);
}
Status WsClient::Send(std::string_view text) { return impl_->Send(text); }
Result<std::string> WsClient::Receive() { return impl_->Receive(); }
Status WsClient::Close() { return impl_->Close(); }
void WsClient::Abort() { impl_->Abort(); }
int WsClient::handshake_status() const { return impl_->handshake_status_; }
int WsClient::close_code() const { return impl_->close_code_; }
void WsClient::set_timeout(std::chrono::milliseconds timeout) { impl_->timeout_ = timeout; }

}  // namespace jrvs::testing
