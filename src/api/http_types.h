// Transport-neutral request and response types. Handlers in api/ are pure functions
// Request -> Response, testable without sockets; http/ converts to and from the wire.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jrvs::api {

struct Request {
  std::string method;  // upper case: "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/api/search?q=x"
  std::string path;    // percent-decoded path without the query string
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order of appearance
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::map<std::string, std::string> path_params;            // filled by the router
  std::string body;
  std::string request_id;
  std::string remote_address;

  // The first query parameter with this name.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
  // Header lookup; `name` must be lower-case.
  std::optional<std::string_view> Header(std::string_view name) const;
  // A path parameter captured by the router ("" if absent).
  std::string_view PathParam(std::string_view name) const;
};

// Receives a streamed response body (Server-Sent Events, NDJSON, ...). Write() blocks until the
// bytes are handed to the connection (back-pressure) and returns false once the client is gone,
// after which the producer should stop. Called from one worker thread at a time.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool Write(std::string_view bytes) = 0;
  virtual bool ClientGone() const = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // When set, `body` is ignored: the server sends the status and headers, then calls `stream` on a
  // worker thread and sends what it writes with chunked transfer encoding.
  std::function<void(StreamSink&)> stream;
};

using Handler = std::function<Response(const Request&)>;

// {"error":{"code":"...","message":"...","request_id":"..."}} with the status mapped from `code`.
Response ErrorResponse(StatusCode code, std::string_view message, std::string_view request_id);
Response ErrorResponse(const Status& status, std::string_view request_id);

// A 200 (or `status`) response with an already-serialised JSON body.
Response JsonResponse(std::string body, int status = 200);

}  // namespace jrvs::api
