#include "scrape/ssrf_guard.h"

#include <gtest/gtest.h>

#include <map>

namespace jrvs::scrape {
namespace {

// A resolver for names the tests need; anything else does not resolve. The real getaddrinfo is
// used only for "localhost" (see LocalhostResolvesToLoopbackAndIsRefused).
std::vector<IpAddress> FakeResolve(const std::string& host) {
  static const std::map<std::string, std::vector<std::string>> kZone = {
      {"public.example", {"93.184.216.34"}},
      {"v6.example", {"2606:4700::1"}},
      {"mixed.example", {"93.184.216.34", "10.0.0.5"}},  // one bad address is enough
      {"rebind.example", {"127.0.0.1"}},
      {"mapped.example", {"::ffff:192.168.1.1"}},
      {"www.example.org", {"93.184.216.34"}},
      {"intranet.corp", {"10.1.2.3"}},
  };
  std::vector<IpAddress> out;
  auto it = kZone.find(host);
  if (it == kZone.end()) return out;
  for (const auto& a : it->second) {
    if (auto v6 = ParseIpv6(a)) {
      out.push_back(*v6);
    } else {
      out.push_back(*ParseNumericIpv4(a));
    }
  }
  return out;
}

SsrfGuard Guard(SsrfGuardOptions options = {}) {
  if (!options.resolve) options.resolve = FakeResolve;
  return SsrfGuard(std::move(options));
}

SsrfGuardOptions AllowPrivate() {
  SsrfGuardOptions o;
  o.allow_private = true;
  return o;
}
SsrfGuardOptions AllowAddresses(std::vector<std::string> ranges) {
  SsrfGuardOptions o;
  o.allow_addresses = std::move(ranges);
  return o;
}
SsrfGuardOptions AllowHosts(std::vector<std::string> hosts) {
  SsrfGuardOptions o;
  o.allow_hosts = std::move(hosts);
  return o;
}
SsrfGuardOptions DenyHosts(std::vector<std::string> hosts) {
  SsrfGuardOptions o;
  o.deny_hosts = std::move(hosts);
  return o;
}

struct Case {
  const char* url;
  FetchError expected;
};

TEST(SsrfGuardTest, Table) {
  static const Case kCases[] = {
      // Public addresses and names pass.
      {"http://93.184.216.34/", FetchError::kNone},
      {"https://93.184.216.34:8443/a?b=c", FetchError::kNone},
      {"http://[2606:4700::1]/", FetchError::kNone},
      {"http://public.example/page", FetchError::kNone},
      {"http://PUBLIC.Example./page", FetchError::kNone},
      {"http://v6.example/", FetchError::kNone},
      {"http://[::ffff:93.184.216.34]/", FetchError::kNone},
      {"http://[64:ff9b::5db8:d822]/", FetchError::kNone},  // NAT64 of 93.184.216.34
      {"http://1572395042/", FetchError::kNone},            // 93.184.216.34 in decimal
      // Loopback in every spelling.
      {"http://127.0.0.1/", FetchError::kBlocked},
      {"http://127.255.255.254/", FetchError::kBlocked},
      {"http://2130706433/", FetchError::kBlocked},
      {"http://0177.0.0.1/", FetchError::kBlocked},
      {"http://0x7f.1/", FetchError::kBlocked},
      {"http://0x7f000001/", FetchError::kBlocked},
      {"http://127.1/", FetchError::kBlocked},
      {"http://127.0.1/", FetchError::kBlocked},
      {"http://017700000001/", FetchError::kBlocked},
      {"http://127.0.0.1./", FetchError::kBlocked},
      {"http://%31%32%37.0.0.1/", FetchError::kBlocked},
      {"http://[::1]/", FetchError::kBlocked},
      {"http://[0:0:0:0:0:0:0:1]/", FetchError::kBlocked},
      {"http://[::ffff:127.0.0.1]/", FetchError::kBlocked},
      {"http://[::ffff:7f00:1]/", FetchError::kBlocked},
      {"http://[::127.0.0.1]/", FetchError::kBlocked},
      {"http://[64:ff9b::7f00:1]/", FetchError::kBlocked},
      {"http://[2002:7f00:1::]/", FetchError::kBlocked},
      // Private, CGNAT, link-local, metadata.
      {"http://10.0.0.1/", FetchError::kBlocked},
      {"http://012.0.0.1/", FetchError::kBlocked},
      {"http://172.16.0.1/", FetchError::kBlocked},
      {"http://172.31.255.255/", FetchError::kBlocked},
      {"http://172.32.0.1/", FetchError::kNone},
      {"http://192.168.0.1/", FetchError::kBlocked},
      {"http://100.64.0.1/", FetchError::kBlocked},
      {"http://100.127.255.255/", FetchError::kBlocked},
      {"http://169.254.169.254/latest/meta-data/", FetchError::kBlocked},
      {"http://0xa9fea9fe/", FetchError::kBlocked},
      {"http://[fd00:ec2::254]/", FetchError::kBlocked},
      {"http://metadata.google.internal/computeMetadata/v1/", FetchError::kBlocked},
      {"http://[fe80::1]/", FetchError::kBlocked},
      {"http://[fc00::1]/", FetchError::kBlocked},
      {"http://[fd12:3456::1]/", FetchError::kBlocked},
      {"http://[::ffff:10.0.0.1]/", FetchError::kBlocked},
      {"http://[::ffff:169.254.169.254]/", FetchError::kBlocked},
      // Multicast, unspecified, broadcast, 0/8, reserved.
      {"http://224.0.0.1/", FetchError::kBlocked},
      {"http://[ff02::1]/", FetchError::kBlocked},
      {"http://0.0.0.0/", FetchError::kBlocked},
      {"http://0/", FetchError::kBlocked},
      {"http://[::]/", FetchError::kBlocked},
      {"http://255.255.255.255/", FetchError::kBlocked},
      {"http://0.1.2.3/", FetchError::kBlocked},
      {"http://240.0.0.1/", FetchError::kBlocked},
      {"http://192.0.2.1/", FetchError::kBlocked},
      {"http://[2001:db8::1]/", FetchError::kBlocked},
      {"http://[2001:0:4136:e378::1]/", FetchError::kBlocked},  // Teredo
      // Names resolving to non-public addresses, and one of several.
      {"http://rebind.example/", FetchError::kBlocked},
      {"http://mixed.example/", FetchError::kBlocked},
      {"http://mapped.example/", FetchError::kBlocked},
      {"http://nowhere.example/", FetchError::kDns},
      // Not a fetchable URL.
      {"ftp://93.184.216.34/", FetchError::kInvalidUrl},
      {"file:///etc/passwd", FetchError::kInvalidUrl},
      {"gopher://127.0.0.1:6379/_INFO", FetchError::kInvalidUrl},
      {"/relative/path", FetchError::kInvalidUrl},
      {"http://evil@127.0.0.1/", FetchError::kInvalidUrl},
      {"http://public.example@127.0.0.1/", FetchError::kInvalidUrl},
      {"http://user:pass@public.example/", FetchError::kInvalidUrl},
      {"http://1.2.3.4.5/", FetchError::kInvalidUrl},
      {"http://256.256.256.256/", FetchError::kInvalidUrl},
      {"http://0x7g.1/", FetchError::kInvalidUrl},
      {"http://[fe80::1%25eth0]/", FetchError::kInvalidUrl},
      {"http://exa mple.com/", FetchError::kInvalidUrl},
      {"http:///path", FetchError::kInvalidUrl},
      {"http://93.184.216.34:0/", FetchError::kInvalidUrl},
      {"http://93.184.216.34:65536/", FetchError::kInvalidUrl},
      {"http://public.example\\@127.0.0.1/", FetchError::kInvalidUrl},
      // A name that starts like an address is a name (Boost.URL 1.81 would cut it at 127.0.0.1).
      {"http://127.0.0.1.nowhere.example/", FetchError::kDns},
      {"http://127.0.0.1.public.example:8080/", FetchError::kDns},
  };
  SsrfGuard guard = Guard();
  for (const auto& c : kCases) {
    GuardVerdict v = guard.Check(c.url);
    EXPECT_EQ(v.error, c.expected)
        << c.url << " -> " << FetchErrorName(v.error) << ": " << v.message;
  }
  EXPECT_GE(std::size(kCases), 40u);
}

TEST(SsrfGuardTest, NumericSpellingsNormaliseToTheSameAddress) {
  for (const char* host : {"2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7F.0.0.1", "127.0.0.1",
                           "0177.1", "0x7f000001"}) {
    auto a = ParseNumericIpv4(host);
    ASSERT_TRUE(a.has_value()) << host;
    EXPECT_EQ(a->ToString(), "127.0.0.1") << host;
  }
  EXPECT_FALSE(ParseNumericIpv4("127.0.0.256").has_value());
  EXPECT_FALSE(ParseNumericIpv4("example.com").has_value());
  EXPECT_FALSE(ParseNumericIpv4("09.1.1.1").has_value());  // 9 is not an octal digit
}

TEST(SsrfGuardTest, CheckedUrlIsCanonicalAndPinsTheAddress) {
  SsrfGuard guard = Guard(AllowPrivate());
  GuardVerdict v = guard.Check("HTTP://0x7f.1:8080/a/b?c=d#frag");
  ASSERT_TRUE(v.ok()) << v.message;
  EXPECT_EQ(v.target.scheme, "http");
  EXPECT_EQ(v.target.host, "127.0.0.1");
  EXPECT_EQ(v.target.port, 8080);
  EXPECT_EQ(v.target.url, "http://127.0.0.1:8080/a/b?c=d");
  ASSERT_EQ(v.target.addresses.size(), 1u);
  EXPECT_EQ(v.target.addresses[0].ToString(), "127.0.0.1");

  v = guard.Check("https://public.example");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.target.url, "https://public.example/");
  EXPECT_EQ(v.target.port, 443);
  EXPECT_FALSE(v.target.host_is_ip);
  EXPECT_EQ(v.target.addresses[0].ToString(), "93.184.216.34");

  v = guard.Check("http://[::1]:9/");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.target.url, "http://[::1]:9/");
}

TEST(SsrfGuardTest, LocalhostResolvesToLoopbackAndIsRefused) {
  SsrfGuard guard;  // the machine's resolver
  GuardVerdict v = guard.Check("http://localhost:8000/");
  EXPECT_EQ(v.error, FetchError::kBlocked) << v.message;
  EXPECT_NE(v.message.find("loopback"), std::string::npos) << v.message;

  SsrfGuard permissive(AllowPrivate());
  v = permissive.Check("http://localhost:8000/");
  ASSERT_TRUE(v.ok()) << v.message;
  EXPECT_FALSE(v.target.addresses.empty());
}

TEST(SsrfGuardTest, AllowPrivateLiftsTheAddressCheckButNotMetadata) {
  SsrfGuard guard = Guard(AllowPrivate());
  EXPECT_TRUE(guard.Check("http://127.0.0.1:1234/").ok());
  EXPECT_TRUE(guard.Check("http://10.0.0.1/").ok());
  EXPECT_TRUE(guard.Check("http://[::1]/").ok());
  EXPECT_TRUE(guard.Check("http://intranet.corp/").ok());
  EXPECT_EQ(guard.Check("http://169.254.169.254/").error, FetchError::kBlocked);
  EXPECT_EQ(guard.Check("http://[fd00:ec2::254]/").error, FetchError::kBlocked);
  EXPECT_EQ(guard.Check("http://metadata.google.internal/").error, FetchError::kBlocked);
  EXPECT_EQ(guard.Check("http://evil@127.0.0.1/").error, FetchError::kInvalidUrl);
}

TEST(SsrfGuardTest, AllowAddressesOpensOnlyTheListedRanges) {
  SsrfGuard guard = Guard(AllowAddresses({"127.0.0.1/32", "10.1.0.0/16"}));
  EXPECT_TRUE(guard.Check("http://127.0.0.1:5000/").ok());
  EXPECT_TRUE(guard.Check("http://intranet.corp/").ok());  // 10.1.2.3
  EXPECT_EQ(guard.Check("http://127.0.0.2/").error, FetchError::kBlocked);
  EXPECT_EQ(guard.Check("http://10.0.0.1/").error, FetchError::kBlocked);
  EXPECT_EQ(guard.Check("http://169.254.169.254/").error, FetchError::kBlocked);
  EXPECT_TRUE(SsrfGuard::ValidateCidr("::1/128"));
  EXPECT_TRUE(SsrfGuard::ValidateCidr("192.168.0.0/16"));
  EXPECT_FALSE(SsrfGuard::ValidateCidr("192.168.0.0/33"));
  EXPECT_FALSE(SsrfGuard::ValidateCidr("banana"));
}

TEST(SsrfGuardTest, AllowAndDenyHostLists) {
  SsrfGuard deny = Guard(DenyHosts({"public.example", ".example.org"}));
  EXPECT_EQ(deny.Check("http://public.example/").error, FetchError::kBlocked);
  EXPECT_EQ(deny.Check("http://www.example.org/").error, FetchError::kBlocked);
  EXPECT_EQ(deny.Check("http://example.org/").error, FetchError::kBlocked);
  EXPECT_TRUE(deny.Check("http://v6.example/").ok());
  // A suffix matches on a label boundary only.
  SsrfGuard deny2 = Guard(DenyHosts({".example.org"}));
  EXPECT_EQ(deny2.Check("http://notexample.org/").error, FetchError::kDns);

  SsrfGuard allow = Guard(AllowHosts({".example.org", "93.184.216.34"}));
  EXPECT_TRUE(allow.Check("http://www.example.org/").ok());
  EXPECT_TRUE(allow.Check("http://93.184.216.34/").ok());
  EXPECT_EQ(allow.Check("http://public.example/").error, FetchError::kBlocked);
  // Being allowed by name does not lift the address check.
  SsrfGuard allow_private_name = Guard(AllowHosts({"rebind.example"}));
  EXPECT_EQ(allow_private_name.Check("http://rebind.example/").error, FetchError::kBlocked);
}

TEST(SsrfGuardTest, SplitHostList) {
  EXPECT_EQ(SplitHostList(" Example.com, .corp.internal ,,"),
            (std::vector<std::string>{"example.com", ".corp.internal"}));
  EXPECT_TRUE(SplitHostList("").empty());
  EXPECT_TRUE(SplitHostList(" , ").empty());
}

TEST(SsrfGuardTest, AddressAllowedNamesTheReason) {
  SsrfGuard guard = Guard();
  std::string why;
  EXPECT_FALSE(guard.AddressAllowed(*ParseNumericIpv4("100.64.1.1"), &why));
  EXPECT_EQ(why, "cgnat");
  EXPECT_FALSE(guard.AddressAllowed(*ParseIpv6("fe80::1"), &why));
  EXPECT_EQ(why, "link-local");
  EXPECT_TRUE(guard.AddressAllowed(*ParseIpv6("2606:4700::1"), &why));
}

}  // namespace
}  // namespace jrvs::scrape
