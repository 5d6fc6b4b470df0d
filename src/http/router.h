// Maps (method, path) to a handler. Patterns are absolute paths whose segments are literals or
// `{name}` parameters: `/api/history/{session_id}` captures one percent-decoded segment into
// Request::path_params["session_id"]. At each segment a literal beats a parameter; a path that
// matches a route but not its method is 405 with the route's Allow list; HEAD falls back to the
// GET handler (the server sends the headers only).
//
// WebSocket routes (AddWebSocket) are GET routes with an upgrade handler: a GET carrying
// `Upgrade: websocket` is handed to it by the connection; a plain GET answers 426.
//
// The matched pattern (not the raw path) is what metrics use as the `route` label, so
// user-controlled paths never explode label cardinality.
//
// Thread safety: Add() is not thread-safe and must finish before the router is shared; after that
// every const method is safe to call concurrently (the server only reads it).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "api/websocket_types.h"
#include "core/status.h"

namespace jrvs::http {

struct RouteOptions {
  // Run the handler inline on the I/O thread instead of the worker pool. Only for cheap,
  // never-blocking handlers (health, metrics): it saves two thread hops per request, but a slow
  // inline handler stalls every connection on that I/O thread. Default false.
  bool run_on_io_thread = false;
  // The handler waits on a slow dependency (an LLM, a web page): run it on the server's separate
  // slow pool so a hung model can never occupy the workers that fast routes (search, stats) need.
  // Streaming producers always run there. Ignored with run_on_io_thread. Default false.
  bool slow = false;
};

// The outcome of Router::Match.
struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  // kFound: the handler and its options (valid for the router's lifetime).
  const api::Handler* handler = nullptr;
  // kFound on a WebSocket route: its upgrade handler (valid for the router's lifetime); else null.
  const api::WebSocketHandler* websocket = nullptr;
  RouteOptions options;
  // kFound and kMethodNotAllowed: the registered pattern, e.g. "/api/history/{session_id}", and a
  // dense id for it in [0, Router::route_count()); empty and -1 for kNotFound.
  std::string_view pattern;
  int route_id = -1;
  // kFound and kMethodNotAllowed: the methods this path accepts, e.g. "GET, HEAD, DELETE".
  std::string_view allow;
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` (an upper-case token such as "GET") on `pattern`.
  // InvalidArgument for a malformed method or pattern (not starting with '/', a segment mixing
  // braces and text, an empty or non-[A-Za-z0-9_] parameter name, or a parameter name differing
  // from one already registered at the same position); AlreadyExists if the method is already
  // registered on an equivalent pattern.
  Status Add(std::string_view method, std::string_view pattern, api::Handler handler,
             RouteOptions options = {});

  // Registers a WebSocket route: GET `pattern` with an upgrade. The connection hands upgrade
  // requests to `handler`; a GET without the upgrade answers 426 Upgrade Required. Errors as Add().
  Status AddWebSocket(std::string_view pattern, api::WebSocketHandler handler);

  // Matches a still percent-encoded path (no query string), e.g. "/api/history/a%20b". Each
  // segment is decoded before comparison and capture, so an encoded '/' stays inside its segment.
  // On kFound, `params` (if not null) receives the captured parameters.
  RouteMatch Match(std::string_view method, std::string_view encoded_path,
                   std::map<std::string, std::string>* params) const;

  // Number of distinct patterns registered; route ids are dense in [0, route_count()).
  size_t route_count() const;
  // The pattern of a route id.
  std::string_view pattern(int route_id) const;

 private:
  struct Node;
  struct Route;
  bool MatchNode(const Node& node, std::string_view rest, bool at_end, std::string_view method,
                 std::vector<std::string_view>& captured, RouteMatch& best, RouteMatch& out) const;

  std::unique_ptr<Node> root_;
  std::vector<std::unique_ptr<Route>> routes_;  // indexed by route id
};

}  // namespace jrvs::http
