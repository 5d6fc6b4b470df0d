// SsrfGuard: decides whether the scraper may connect to a URL, and to which address.
//
// A scraper is the easiest door into a server's private network, so every hop of every fetch
// (the first URL, each redirect, robots.txt) goes through Check() first. Check():
//   1. parses the URL: only absolute http/https URLs with a host; userinfo ("http://a@b/") is
//      refused outright (kInvalidUrl), as are hosts that are neither an IP literal nor an ASCII
//      DNS name (IDNs must be given in punycode);
//   2. applies deny_hosts, then allow_hosts (exact host, or ".suffix" for the domain and its
//      subdomains; when allow_hosts is non-empty only matching hosts are fetched) -> kBlocked;
//   3. finds the addresses: numeric hosts in every spelling the C library and browsers accept
//      (decimal "2130706433", octal "0177.0.0.1", hex "0x7f.1", short "127.1", IPv6 literals)
//      are parsed here, never resolved; names are resolved (getaddrinfo) -> kDns on failure;
//   4. refuses (kBlocked) if ANY address is not public: loopback, private (10/8, 172.16/12,
//      192.168/16), CGNAT 100.64/10, link-local (169.254/16, fe80::/10), ULA fc00::/7,
//      multicast, unspecified, broadcast, 0/8, reserved and documentation ranges, and IPv6
//      forms that embed an IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96,
//      NAT64 64:ff9b::/96, 6to4 2002::/16) when the embedded address is not public; the
//      local-use NAT64 prefix 64:ff9b:1::/48 and Teredo 2001::/32 are refused outright;
//   5. returns the checked addresses the caller must connect to (CurlFetcher pins it with
//      CURLOPT_RESOLVE and re-checks it when the socket is opened), so a DNS answer that
//      changes between the check and the connect (DNS rebinding) cannot redirect the request.
// Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, metadata.google.internal and
// metadata.goog by name) are refused even with allow_private: no scrape has a reason to read
// them, and they hand out credentials.
//
// allow_private lifts step 4 for every address (tests against 127.0.0.1, or an intranet
// deployment). allow_addresses lifts it for listed ranges only ("127.0.0.1/32", "10.1.0.0/16",
// "::1/128"): tests use it to reach a fixture site on 127.0.0.1 while a redirect to
// 169.254.169.254 or 10.0.0.1 is still refused, and operators to open one intranet subnet.
//
// Thread safety: Check() is const and may be called concurrently. It blocks on name resolution.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scrape/fetcher.h"

namespace jrvs::scrape {

// An IPv4 or IPv6 address in network byte order; IPv4 uses bytes[0..3].
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  static IpAddress V4(uint32_t host_order);
  std::string ToString() const;  // "1.2.3.4" or "2001:db8::1" (no brackets)
  bool operator==(const IpAddress&) const = default;
};

// Parses a host as the C library and browsers would read a numeric IPv4 host: one to four
// parts separated by dots (one trailing dot allowed), each decimal, octal (leading 0) or hex
// (0x), the last part filling the remaining bytes. nullopt when `host` is not such a number.
std::optional<IpAddress> ParseNumericIpv4(std::string_view host);

// Parses an IPv6 literal without brackets ("::1"); zone ids ("fe80::1%eth0") are refused.
std::optional<IpAddress> ParseIpv6(std::string_view host);

// Why `address` must not be contacted ("loopback", "private", "link-local", ...), or "" when it
// is a public unicast address.
std::string NonPublicReason(const IpAddress& address);

// True for the cloud metadata addresses, refused even with allow_private.
bool IsMetadataAddress(const IpAddress& address);

// Splits a comma-separated host list (scrape.allow_hosts / scrape.deny_hosts) into trimmed,
// lower-case, non-empty entries.
std::vector<std::string> SplitHostList(std::string_view comma_list);

struct SsrfGuardOptions {
  bool allow_private = false;                // skip the non-public address check entirely
  std::vector<std::string> allow_hosts;      // exact host or ".suffix"; non-empty = only these
  std::vector<std::string> deny_hosts;       // exact host or ".suffix"; always refused
  std::vector<std::string> allow_addresses;  // CIDR ranges exempt from the address check
  // Name resolution; empty = getaddrinfo. Returns the addresses of `host`, or an empty list
  // when the name does not resolve. Tests inject one to exercise DNS answers they cannot get
  // from the machine's resolver.
  std::function<std::vector<IpAddress>(const std::string& host)> resolve;
};

// A URL that passed the guard, split into what the fetcher needs to pin the connection.
struct CheckedUrl {
  std::string scheme;                // "http" or "https"
  std::string host;                  // lower case, no brackets, no trailing dot; canonical for IPs
  uint16_t port = 0;                 // explicit or the scheme's default
  std::string url;                   // normalised URL to request: no userinfo, no fragment
  std::vector<IpAddress> addresses;  // the checked addresses; connect only to these
  bool host_is_ip = false;
};

struct GuardVerdict {
  FetchError error = FetchError::kNone;  // kNone, kInvalidUrl, kBlocked or kDns
  std::string message;
  CheckedUrl target;  // valid when error == kNone
  bool ok() const { return error == FetchError::kNone; }
};

class SsrfGuard {
 public:
  // Unparsable allow_addresses entries are ignored; use ValidateCidr() to reject them first.
  explicit SsrfGuard(SsrfGuardOptions options = {});

  GuardVerdict Check(std::string_view url) const;

  // Whether connecting to `address` is allowed (address rules only, no host lists). The
  // fetcher calls it again for the address a socket is actually opened to.
  bool AddressAllowed(const IpAddress& address, std::string* why = nullptr) const;

  // True when `cidr` is "address/prefix" or a bare address.
  static bool ValidateCidr(std::string_view cidr);

 private:
  struct Range {
    IpAddress base;
    int prefix = 0;
  };
  static std::optional<Range> ParseCidr(std::string_view cidr);
  bool HostListed(const std::vector<std::string>& list, std::string_view host) const;

  SsrfGuardOptions options_;
  std::vector<Range> allowed_ranges_;
};

}  // namespace jrvs::scrape
