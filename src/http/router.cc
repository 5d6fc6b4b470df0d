#include "http/router.h"

#include <algorithm>
#include <utility>

#include <boost/url/pct_string_view.hpp>

namespace jrvs::http {

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;  // the `{name}` child, if any
  std::string param_name;       // set on a parameter node: the name it captures into
  int route_id = -1;            // a route ends here
};

struct Router::Route {
  struct Method {
    std::string method;
    api::Handler handler;
    RouteOptions options;
    api::WebSocketHandler websocket;  // set on a WebSocket route's GET
  };
  std::string pattern;
  std::vector<std::string> param_names;  // in path order
  std::vector<Method> methods;           // in registration order
  std::string allow;                     // "GET, HEAD, DELETE"

  // The entry serving `method`; HEAD falls back to GET.
  const Method* Find(std::string_view method) const {
    for (const auto& m : methods) {
      if (m.method == method) return &m;
    }
    if (method == "HEAD") return Find("GET");
    return nullptr;
  }
};

namespace {

bool IsMethodToken(std::string_view method) {
  if (method.empty() || method.size() > 32) return false;
  return std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool IsParamName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Percent-decodes one path segment; a malformed escape leaves the segment as it is (the server
// rejects such targets before routing, so this only matters for direct callers).
std::string DecodeSegment(std::string_view segment) {
  if (segment.find('%') == std::string_view::npos) return std::string(segment);
  auto pct = boost::urls::make_pct_string_view(segment);
  if (!pct) return std::string(segment);
  return pct->decode();
}

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Status Router::Add(std::string_view method, std::string_view pattern, api::Handler handler,
                   RouteOptions options) {
  if (!IsMethodToken(method)) {
    return Status(StatusCode::kInvalidArgument, "invalid method '" + std::string(method) + "'");
  }
  if (pattern.empty() || pattern.front() != '/') {
    return Status(StatusCode::kInvalidArgument,
                  "route pattern must start with '/': '" + std::string(pattern) + "'");
  }
  if (!handler) {
    return Status(StatusCode::kInvalidArgument, "empty handler for " + std::string(pattern));
  }
  // Validate the whole pattern before touching the trie, so a failed Add leaves it unchanged.
  struct Segment {
    std::string_view text;
    bool is_param;
  };
  std::vector<Segment> segments;
  std::string_view rest = pattern.substr(1);
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    bool is_param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    if (is_param) seg = seg.substr(1, seg.size() - 2);
    if (is_param ? !IsParamName(seg) : seg.find_first_of("{}") != std::string_view::npos) {
      return Status(StatusCode::kInvalidArgument,
                    "malformed segment in route pattern '" + std::string(pattern) + "'");
    }
    segments.push_back({seg, is_param});
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  // Check parameter-name consistency along the existing trie.
  const Node* probe = root_.get();
  for (const auto& seg : segments) {
    if (probe == nullptr) break;
    if (seg.is_param) {
      if (probe->param && probe->param->param_name != seg.text) {
        return Status(StatusCode::kInvalidArgument,
                      "route pattern '" + std::string(pattern) + "' names parameter '{" +
                          std::string(seg.text) + "}' where another route has '{" +
                          probe->param->param_name + "}'");
      }
      probe = probe->param.get();
    } else {
      auto it = probe->literals.find(seg.text);
      probe = it == probe->literals.end() ? nullptr : it->second.get();
    }
  }

  Node* node = root_.get();
  std::vector<std::string> param_names;
  for (const auto& seg : segments) {
    if (seg.is_param) {
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param->param_name = std::string(seg.text);
      }
      param_names.emplace_back(seg.text);
      node = node->param.get();
    } else {
      auto& child = node->literals[std::string(seg.text)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    }
  }
  if (node->route_id < 0) {
    auto route = std::make_unique<Route>();
    route->pattern = std::string(pattern);
    route->param_names = std::move(param_names);
    node->route_id = static_cast<int>(routes_.size());
    routes_.push_back(std::move(route));
  }
  Route& route = *routes_[static_cast<size_t>(node->route_id)];
  for (const auto& m : route.methods) {
    if (m.method == method) {
      return Status(StatusCode::kAlreadyExists,
                    std::string(method) + " " + route.pattern + " is already registered");
    }
  }
  route.methods.push_back({std::string(method), std::move(handler), options, {}});

  bool has_get = route.Find("GET") != nullptr;
  bool has_explicit_head = false;
  route.allow.clear();
  for (const auto& m : route.methods) has_explicit_head |= m.method == "HEAD";
  for (const auto& m : route.methods) {
    if (!route.allow.empty()) route.allow += ", ";
    route.allow += m.method;
    if (m.method == "GET" && has_get && !has_explicit_head) route.allow += ", HEAD";
  }
  return Status::Ok();
}

Status Router::AddWebSocket(std::string_view pattern, api::WebSocketHandler handler) {
  // Cheap and never blocking: safe inline on the I/O thread.
  RouteOptions options;
  options.run_on_io_thread = true;
  Status added = Add(
      "GET", pattern,
      [](const api::Request& request) {
        api::Response r =
            api::ErrorResponse(StatusCode::kInvalidArgument, "this route needs a WebSocket upgrade",
                               request.request_id);
        r.status = 426;
        r.headers.emplace_back("Upgrade", "websocket");
        return r;
      },
      options);
  if (!added.ok()) return added;
  // Add() just appended the GET entry of this pattern's route: attach the upgrade handler to it.
  // (Equivalent patterns have identical text: parameter names must agree.)
  for (auto& route : routes_) {
    if (route->pattern == pattern) route->methods.back().websocket = std::move(handler);
  }
  return Status::Ok();
}

// Depth-first search, literal child before parameter child, so the first route found is the most
// specific. `rest` is the path after the '/' that starts the current segment; `at_end` means the
// path is consumed and ends at `node`. Returns true once a route serving `method` is
// found (written to `out`); the first route matched by path alone goes to `best` for a 405.
bool Router::MatchNode(const Node& node, std::string_view rest, bool at_end,
                       std::string_view method, std::vector<std::string_view>& captured,
                       RouteMatch& best, RouteMatch& out) const {
  if (at_end) {
    if (node.route_id < 0) return false;
    const Route& route = *routes_[static_cast<size_t>(node.route_id)];
    if (const Route::Method* m = route.Find(method)) {
      out.kind = RouteMatch::Kind::kFound;
      out.handler = &m->handler;
      out.websocket = m->websocket ? &m->websocket : nullptr;
      out.options = m->options;
      out.pattern = route.pattern;
      out.route_id = node.route_id;
      out.allow = route.allow;
      return true;
    }
    if (best.kind == RouteMatch::Kind::kNotFound) {
      best.kind = RouteMatch::Kind::kMethodNotAllowed;
      best.pattern = route.pattern;
      best.route_id = node.route_id;
      best.allow = route.allow;
    }
    return false;
  }
  size_t slash = rest.find('/');
  std::string_view segment = rest.substr(0, slash);
  bool next_at_end = slash == std::string_view::npos;
  std::string_view next = next_at_end ? std::string_view() : rest.substr(slash + 1);
  if (!node.literals.empty()) {
    auto it = segment.find('%') == std::string_view::npos
                  ? node.literals.find(segment)
                  : node.literals.find(DecodeSegment(segment));
    if (it != node.literals.end() &&
        MatchNode(*it->second, next, next_at_end, method, captured, best, out)) {
      return true;
    }
  }
  if (node.param) {
    captured.push_back(segment);
    if (MatchNode(*node.param, next, next_at_end, method, captured, best, out)) return true;
    captured.pop_back();
  }
  return false;
}

RouteMatch Router::Match(std::string_view method, std::string_view encoded_path,
                         std::map<std::string, std::string>* params) const {
  RouteMatch out;
  if (encoded_path.empty() || encoded_path.front() != '/') return out;
  std::vector<std::string_view> captured;
  RouteMatch best;
  if (MatchNode(*root_, encoded_path.substr(1), false, method, captured, best, out)) {
    if (params != nullptr) {
      const Route& route = *routes_[static_cast<size_t>(out.route_id)];
      for (size_t i = 0; i < captured.size() && i < route.param_names.size(); ++i) {
        (*params)[route.param_names[i]] = DecodeSegment(captured[i]);
      }
    }
    return out;
  }
  return best;
}

size_t Router::route_count() const { return routes_.size(); }

std::string_view Router::pattern(int route_id) const {
  if (route_id < 0 || static_cast<size_t>(route_id) >= routes_.size()) return {};
  return routes_[static_cast<size_t>(route_id)]->pattern;
}

}  // namespace jrvs::http
