#include "scrape/ssrf_guard.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "core/text.h"

namespace jrvs::scrape {
namespace {

// Parses one part of a numeric IPv4 host: decimal, octal (leading 0) or hex (0x).
std::optional<uint64_t> ParseIpv4Part(std::string_view part) {
  if (part.empty()) return std::nullopt;
  int base = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    base = 16;
    part.remove_prefix(2);
    if (part.empty()) return 0;  // "0x" alone is zero, as in browsers
  } else if (part.size() >= 2 && part[0] == '0') {
    base = 8;
    part.remove_prefix(1);
  }
  uint64_t value = 0;
  for (char c : part) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c))) {
      digit = std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (digit >= base) return std::nullopt;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
    if (value > 0xffffffffull) return std::nullopt;
  }
  return value;
}

// Whether the last label of a host is a number, i.e. the host must be read as IPv4 (a host
// like "1.2.3.4.5" or "0x7g.1" is then invalid rather than a name to resolve).
bool EndsInNumber(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  return last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X');
}

bool InV4(const IpAddress& a, uint32_t base, int prefix) {
  uint32_t v = (uint32_t{a.bytes[0]} << 24) | (uint32_t{a.bytes[1]} << 16) |
               (uint32_t{a.bytes[2]} << 8) | uint32_t{a.bytes[3]};
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (v & mask) == (base & mask);
}

bool PrefixMatch(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}

bool InV6(const IpAddress& a, std::string_view base, int prefix) {
  auto b = ParseIpv6(base);
  return b && PrefixMatch(a.bytes, b->bytes, prefix);
}

IpAddress EmbeddedV4(const IpAddress& a, size_t offset) {
  IpAddress v4;
  std::copy_n(a.bytes.begin() + static_cast<long>(offset), 4, v4.bytes.begin());
  return v4;
}

std::string V4Reason(const IpAddress& a) {
  struct Block {
    uint32_t base;
    int prefix;
    const char* why;
  };
  static constexpr Block kBlocks[] = {
      {0x00000000, 8, "this-network (0/8)"},
      {0x0a000000, 8, "private"},
      {0x64400000, 10, "cgnat"},
      {0x7f000000, 8, "loopback"},
      {0xa9fe0000, 16, "link-local"},
      {0xac100000, 12, "private"},
      {0xc0000000, 24, "reserved"},
      {0xc0000200, 24, "documentation"},
      {0xc0586300, 24, "reserved"},
      {0xc0a80000, 16, "private"},
      {0xc6120000, 15, "benchmarking"},
      {0xc6336400, 24, "documentation"},
      {0xcb007100, 24, "documentation"},
      {0xe0000000, 4, "multicast"},
      {0xffffffff, 32, "broadcast"},
      {0xf0000000, 4, "reserved"},
  };
  for (const auto& b : kBlocks) {
    if (InV4(a, b.base, b.prefix)) return b.why;
  }
  return "";
}

std::string V6Reason(const IpAddress& a) {
  static const std::array<uint8_t, 16> kZero{};
  if (a.bytes == kZero) return "unspecified";
  if (InV6(a, "::1", 128)) return "loopback";
  // Forms that carry an IPv4 address: judged by it.
  if (InV6(a, "::ffff:0:0", 96) || InV6(a, "::ffff:0:0:0", 96) || InV6(a, "64:ff9b::", 96) ||
      PrefixMatch(a.bytes, kZero, 96)) {
    std::string why = V4Reason(EmbeddedV4(a, 12));
    return why.empty() ? "" : "embedded IPv4 " + why;
  }
  if (InV6(a, "2002::", 16)) {
    std::string why = V4Reason(EmbeddedV4(a, 2));
    return why.empty() ? "" : "6to4 " + why;
  }
  if (InV6(a, "64:ff9b:1::", 48)) return "nat64 local-use";
  if (InV6(a, "fc00::", 7)) return "unique-local";
  if (InV6(a, "fe80::", 10)) return "link-local";
  if (InV6(a, "fec0::", 10)) return "site-local";
  if (InV6(a, "ff00::", 8)) return "multicast";
  if (InV6(a, "2001::", 32)) return "teredo";
  if (InV6(a, "2001:db8::", 32)) return "documentation";
  if (InV6(a, "2001:2::", 48)) return "benchmarking";
  if (InV6(a, "2001:10::", 28)) return "reserved";
  if (!InV6(a, "2000::", 3)) return "reserved";  // global unicast is 2000::/3 only
  return "";
}

std::vector<IpAddress> ResolveWithGetaddrinfo(const std::string& host) {
  std::vector<IpAddress> out;
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    IpAddress a;
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      std::memcpy(a.bytes.data(), &sin->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      a.v6 = true;
      std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  freeaddrinfo(res);
  return out;
}

bool ValidDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

GuardVerdict Refuse(FetchError error, std::string message) {
  GuardVerdict v;
  v.error = error;
  v.message = std::move(message);
  return v;
}

}  // namespace

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress a;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpAddress> ParseNumericIpv4(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return std::nullopt;
  std::vector<uint64_t> parts;
  while (true) {
    auto dot = host.find('.');
    auto part = ParseIpv4Part(host.substr(0, dot));
    if (!part) return std::nullopt;
    parts.push_back(*part);
    if (parts.size() > 4) return std::nullopt;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  uint64_t value = 0;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] > 255) return std::nullopt;
    value |= parts[i] << (8 * (3 - i));
  }
  uint64_t last = parts.back();
  if (last >= (uint64_t{1} << (8 * (5 - parts.size())))) return std::nullopt;
  value |= last;
  return IpAddress::V4(static_cast<uint32_t>(value));
}

std::optional<IpAddress> ParseIpv6(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(host);
  IpAddress a;
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

std::string NonPublicReason(const IpAddress& address) {
  return address.v6 ? V6Reason(address) : V4Reason(address);
}

bool IsMetadataAddress(const IpAddress& address) {
  if (!address.v6) {
    return InV4(address, 0xa9fea9fe, 32) ||  // 169.254.169.254: AWS, GCP, Azure, ...
           InV4(address, 0xa83f8110, 32) ||  // 168.63.129.16: Azure wire server
           InV4(address, 0x646464c8, 32);    // 100.100.100.200: Alibaba Cloud
  }
  if (InV6(address, "fd00:ec2::254", 128)) return true;  // AWS over IPv6
  // 169.254.169.254 hidden in an IPv4-mapped/compatible/NAT64 form.
  if (InV6(address, "::ffff:0:0", 96) || InV6(address, "64:ff9b::", 96) ||
      PrefixMatch(address.bytes, std::array<uint8_t, 16>{}, 96)) {
    return IsMetadataAddress(EmbeddedV4(address, 12));
  }
  return false;
}

std::vector<std::string> SplitHostList(std::string_view comma_list) {
  std::vector<std::string> out;
  while (!comma_list.empty()) {
    auto comma = comma_list.find(',');
    std::string entry = text::AsciiLower(comma_list.substr(0, comma));
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    if (!entry.empty()) out.push_back(std::move(entry));
    if (comma == std::string_view::npos) break;
    comma_list.remove_prefix(comma + 1);
  }
  return out;
}

SsrfGuard::SsrfGuard(SsrfGuardOptions options) : options_(std::move(options)) {
  for (auto& h : options_.allow_hosts) h = text::AsciiLower(h);
  for (auto& h : options_.deny_hosts) h = text::AsciiLower(h);
  for (const auto& cidr : options_.allow_addresses) {
    if (auto r = ParseCidr(cidr)) allowed_ranges_.push_back(*r);
  }
  if (!options_.resolve) options_.resolve = ResolveWithGetaddrinfo;
}

std::optional<SsrfGuard::Range> SsrfGuard::ParseCidr(std::string_view cidr) {
  auto slash = cidr.find('/');
  std::string_view addr = cidr.substr(0, slash);
  Range r;
  if (auto v6 = ParseIpv6(addr)) {
    r.base = *v6;
  } else if (auto v4 = ParseNumericIpv4(addr);
             v4 && std::count(addr.begin(), addr.end(), '.') == 3) {
    r.base = *v4;
  } else {
    return std::nullopt;
  }
  int max = r.base.v6 ? 128 : 32;
  r.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = cidr.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    r.prefix = std::stoi(std::string(p));
    if (r.prefix > max) return std::nullopt;
  }
  return r;
}

bool SsrfGuard::ValidateCidr(std::string_view cidr) { return ParseCidr(cidr).has_value(); }

bool SsrfGuard::HostListed(const std::vector<std::string>& list, std::string_view host) const {
  for (const auto& entry : list) {
    if (entry.empty()) continue;
    if (entry[0] == '.') {
      std::string_view suffix(entry);
      if (host == suffix.substr(1)) return true;
      if (host.size() > suffix.size() &&
          host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return true;
      }
    } else if (host == entry) {
      return true;
    }
  }
  return false;
}

bool SsrfGuard::AddressAllowed(const IpAddress& address, std::string* why) const {
  if (IsMetadataAddress(address)) {
    if (why) *why = "cloud metadata address";
    return false;
  }
  if (options_.allow_private) return true;
  for (const auto& r : allowed_ranges_) {
    if (r.base.v6 == address.v6 && PrefixMatch(r.base.bytes, address.bytes, r.prefix)) {
      return true;
    }
  }
  std::string reason = NonPublicReason(address);
  if (reason.empty()) return true;
  if (why) *why = reason;
  return false;
}

GuardVerdict SsrfGuard::Check(std::string_view url_in) const {
  while (!url_in.empty() && std::isspace(static_cast<unsigned char>(url_in.front()))) {
    url_in.remove_prefix(1);
  }
  while (!url_in.empty() && std::isspace(static_cast<unsigned char>(url_in.back()))) {
    url_in.remove_suffix(1);
  }
  // The authority is split here rather than by Boost.URL: Boost 1.81 reads
  // "http://127.0.0.1.evil.com/" as host 127.0.0.1 with path ".evil.com/", exactly the kind of
  // parser disagreement an SSRF attack lives on. Boost.URL then only validates the rest.
  auto colon = url_in.find(':');
  if (colon == std::string_view::npos || colon == 0 || url_in.substr(colon + 1, 2) != "//") {
    return Refuse(FetchError::kInvalidUrl, "not an absolute URL");
  }
  CheckedUrl t;
  t.scheme = text::AsciiLower(url_in.substr(0, colon));
  if (t.scheme != "http" && t.scheme != "https") {
    return Refuse(FetchError::kInvalidUrl, "only http and https URLs are fetched");
  }
  std::string_view after = url_in.substr(colon + 3);
  auto auth_end = after.find_first_of("/?#");
  std::string_view authority = after.substr(0, auth_end);
  std::string_view rest = auth_end == std::string_view::npos ? "" : after.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    return Refuse(FetchError::kInvalidUrl, "URLs with user information are refused");
  }
  if (authority.find('\\') != std::string_view::npos) {
    return Refuse(FetchError::kInvalidUrl, "bad host");
  }
  std::string_view host_text;
  std::string_view port_text;
  bool bracketed = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return Refuse(FetchError::kInvalidUrl, "bad IPv6 host");
    host_text = authority.substr(1, close - 1);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty() && tail.front() != ':') return Refuse(FetchError::kInvalidUrl, "bad host");
    if (!tail.empty()) port_text = tail.substr(1);
    bracketed = true;
  } else {
    auto pc = authority.rfind(':');
    host_text = authority.substr(0, pc);
    if (pc != std::string_view::npos) port_text = authority.substr(pc + 1);
  }
  bool has_port = !port_text.empty();
  if (has_port) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(),
                                             [](char c) { return c >= '0' && c <= '9'; })) {
      return Refuse(FetchError::kInvalidUrl, "bad port");
    }
    int port = std::stoi(std::string(port_text));
    if (port <= 0 || port > 65535) return Refuse(FetchError::kInvalidUrl, "bad port");
    t.port = static_cast<uint16_t>(port);
  } else {
    t.port = t.scheme == "https" ? 443 : 80;
  }
  std::string rest_url = std::string("http://h").append(rest);  // the view below points into it
  auto rest_parsed = boost::urls::parse_uri(rest_url);
  if (!rest_parsed) return Refuse(FetchError::kInvalidUrl, "bad path or query");
  const boost::urls::url_view& u = *rest_parsed;

  if (bracketed) {
    auto v6 = ParseIpv6(host_text);
    if (!v6) return Refuse(FetchError::kInvalidUrl, "bad IPv6 address");
    t.addresses.push_back(*v6);
    t.host = v6->ToString();
    t.host_is_ip = true;
  } else {
    std::string h;
    for (size_t i = 0; i < host_text.size(); ++i) {  // percent-decode
      char c = host_text[i];
      if (c == '%' && i + 2 < host_text.size() &&
          std::isxdigit(static_cast<unsigned char>(host_text[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(host_text[i + 2]))) {
        c = static_cast<char>(std::stoi(std::string(host_text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      }
      h.push_back(c);
    }
    h = text::AsciiLower(h);
    if (EndsInNumber(h)) {
      auto v4 = ParseNumericIpv4(h);
      if (!v4) return Refuse(FetchError::kInvalidUrl, "bad IPv4 address");
      t.addresses.push_back(*v4);
      t.host = v4->ToString();
      t.host_is_ip = true;
    } else {
      if (!h.empty() && h.back() == '.') h.pop_back();
      if (!ValidDnsName(h) || h.find("..") != std::string::npos || h.front() == '.') {
        return Refuse(FetchError::kInvalidUrl, "bad host name");
      }
      t.host = h;
    }
  }
  if (t.host.empty()) return Refuse(FetchError::kInvalidUrl, "URL has no host");

  if (HostListed(options_.deny_hosts, t.host)) {
    return Refuse(FetchError::kBlocked, "host " + t.host + " is denied by scrape.deny_hosts");
  }
  if (!options_.allow_hosts.empty() && !HostListed(options_.allow_hosts, t.host)) {
    return Refuse(FetchError::kBlocked, "host " + t.host + " is not in scrape.allow_hosts");
  }
  if (t.host == "metadata.google.internal" || t.host == "metadata.goog") {
    return Refuse(FetchError::kBlocked, "cloud metadata host " + t.host);
  }

  if (!t.host_is_ip) {
    t.addresses = options_.resolve(t.host);
    if (t.addresses.empty()) return Refuse(FetchError::kDns, "host " + t.host + " not found");
  }
  for (const auto& a : t.addresses) {
    std::string why;
    if (!AddressAllowed(a, &why)) {
      return Refuse(FetchError::kBlocked,
                    "address " + a.ToString() + " of " + t.host + " is " + why);
    }
  }

  std::string host_part = t.addresses.front().v6 && t.host_is_ip ? "[" + t.host + "]" : t.host;
  t.url = t.scheme + "://" + host_part;
  if (has_port) t.url.append(":").append(std::to_string(t.port));
  std::string path(u.encoded_path());
  t.url.append(path.empty() ? "/" : path);
  if (u.has_query()) t.url.append("?").append(u.encoded_query());

  GuardVerdict v;
  v.target = std::move(t);
  return v;
}

}  // namespace jrvs::scrape
