#include "server/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard::server {
namespace {

IpAddress Ip(std::string_view text) {
  const std::optional<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

ProxyList Proxies(std::string_view list) {
  std::string error;
  const std::optional<ProxyList> proxies = ParseTrustedProxies(list, &error);
  EXPECT_TRUE(proxies.has_value()) << list << ": " << error;
  return proxies.value_or(ProxyList{});
}

TEST(IpAddressTest, ParsesIpv4AsMapped) {
  const std::optional<IpAddress> address = IpAddress::Parse("192.0.2.1");
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(address->is_v4());
  const std::array<uint8_t, 16> expected = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  EXPECT_EQ(address->bytes, expected);
  EXPECT_EQ(address->ToString(), "192.0.2.1");
}

TEST(IpAddressTest, ParsesIpv6) {
  const std::optional<IpAddress> address = IpAddress::Parse("2001:db8::1");
  ASSERT_TRUE(address.has_value());
  EXPECT_FALSE(address->is_v4());
  const std::array<uint8_t, 16> expected = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                            0,    0,    0,    0,    0, 0, 0, 1};
  EXPECT_EQ(address->bytes, expected);
  EXPECT_EQ(address->ToString(), "2001:db8::1");
}

TEST(IpAddressTest, MappedIpv4IsTheIpv4Address) {
  const std::optional<IpAddress> mapped = IpAddress::Parse("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->is_v4());
  EXPECT_EQ(mapped->ToString(), "192.0.2.1");
  EXPECT_EQ(mapped->bytes, Ip("192.0.2.1").bytes);
  EXPECT_EQ(Ip("::FFFF:c000:0201").ToString(), "192.0.2.1");
}

TEST(IpAddressTest, ToStringIsCanonical) {
  EXPECT_EQ(Ip("2001:0DB8:0000:0000:0000:0000:0000:0001").ToString(), "2001:db8::1");
  EXPECT_EQ(Ip("2001:DB8::A").ToString(), "2001:db8::a");
  EXPECT_EQ(Ip("::1").ToString(), "::1");
  EXPECT_EQ(Ip("::").ToString(), "::");
  EXPECT_EQ(Ip("fe80:0:0:1::").ToString(), "fe80:0:0:1::");
  EXPECT_EQ(Ip("0.0.0.0").ToString(), "0.0.0.0");
  EXPECT_EQ(Ip("255.255.255.255").ToString(), "255.255.255.255");
  EXPECT_FALSE(Ip("::1").is_v4());
  EXPECT_FALSE(Ip("::").is_v4());
  // The IPv4-compatible form (deprecated, no ffff) is not IPv4-mapped.
  EXPECT_FALSE(Ip("::192.0.2.1").is_v4());
}

TEST(IpAddressTest, RefusesWhatIsNotAnAddress) {
  for (std::string_view text :
       {"", " ", "garbage", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:80", " 1.2.3.4", "1.2.3.4 ",
        "1.2.3.4/8", "[::1]", "[::1]:443", "2001:db8:::1", "2001:db8::g", "1:2:3:4:5:6:7:8:9",
        "localhost", "0x7f.0.0.1", "::ffff:192.0.2.1::ffff:192.0.2.1::ffff:192.0.2.1::1"}) {
    EXPECT_FALSE(IpAddress::Parse(text).has_value()) << text;
  }
}

// inet_pton takes a C string: text past an embedded NUL was not seen, and "1.2.3.4\0garbage"
// read as 1.2.3.4 (failed before the fix).
TEST(IpAddressTest, RefusesAnAddressFollowedByANul) {
  const std::string with_nul("1.2.3.4\0garbage", 15);
  EXPECT_FALSE(IpAddress::Parse(with_nul).has_value());
}

TEST(TrustedProxiesTest, EmptyListTrustsNoOne) {
  for (std::string_view list : {"", "   ", "\t"}) {
    const ProxyList proxies = Proxies(list);
    EXPECT_TRUE(proxies.empty()) << list;
    EXPECT_FALSE(proxies.Contains(Ip("10.0.0.1")));
    EXPECT_FALSE(proxies.Contains(Ip("::1")));
  }
}

TEST(TrustedProxiesTest, Ipv4Cidrs) {
  const ProxyList proxies = Proxies("10.0.0.0/8, 192.168.1.0/24 ,192.0.2.7");
  EXPECT_FALSE(proxies.empty());
  EXPECT_TRUE(proxies.Contains(Ip("10.0.0.0")));
  EXPECT_TRUE(proxies.Contains(Ip("10.255.255.255")));
  EXPECT_FALSE(proxies.Contains(Ip("11.0.0.0")));
  EXPECT_FALSE(proxies.Contains(Ip("9.255.255.255")));
  EXPECT_TRUE(proxies.Contains(Ip("192.168.1.200")));
  EXPECT_FALSE(proxies.Contains(Ip("192.168.2.1")));
  EXPECT_TRUE(proxies.Contains(Ip("192.0.2.7")));  // a bare address is a /32
  EXPECT_FALSE(proxies.Contains(Ip("192.0.2.8")));
  EXPECT_TRUE(proxies.Contains(Ip("::ffff:10.1.2.3")));
  EXPECT_FALSE(proxies.Contains(Ip("::a01:203")));  // 10.1.2.3's bits, not mapped
}

TEST(TrustedProxiesTest, HostBitsOfTheBaseAreIgnored) {
  const ProxyList proxies = Proxies("10.1.2.3/16");
  EXPECT_TRUE(proxies.Contains(Ip("10.1.0.1")));
  EXPECT_TRUE(proxies.Contains(Ip("10.1.255.255")));
  EXPECT_FALSE(proxies.Contains(Ip("10.2.0.1")));
}

TEST(TrustedProxiesTest, OddPrefixLengths) {
  const ProxyList proxies = Proxies("172.16.0.0/12,198.51.100.128/25");
  EXPECT_TRUE(proxies.Contains(Ip("172.31.255.255")));
  EXPECT_FALSE(proxies.Contains(Ip("172.32.0.0")));
  EXPECT_TRUE(proxies.Contains(Ip("198.51.100.128")));
  EXPECT_FALSE(proxies.Contains(Ip("198.51.100.127")));
}

TEST(TrustedProxiesTest, Ipv4SlashZeroIsEveryIpv4Address) {
  const ProxyList proxies = Proxies("0.0.0.0/0");
  EXPECT_TRUE(proxies.Contains(Ip("1.2.3.4")));
  EXPECT_TRUE(proxies.Contains(Ip("255.255.255.255")));
  EXPECT_FALSE(proxies.Contains(Ip("2001:db8::1")));
}

TEST(TrustedProxiesTest, Ipv6Cidrs) {
  const ProxyList proxies = Proxies("fd00::/8,2001:db8:1::/48, ::1");
  EXPECT_TRUE(proxies.Contains(Ip("fd12:3456::1")));
  EXPECT_FALSE(proxies.Contains(Ip("fe00::1")));
  EXPECT_TRUE(proxies.Contains(Ip("2001:db8:1:ffff::1")));
  EXPECT_FALSE(proxies.Contains(Ip("2001:db8:2::1")));
  EXPECT_TRUE(proxies.Contains(Ip("::1")));
  EXPECT_FALSE(proxies.Contains(Ip("::2")));
  EXPECT_FALSE(proxies.Contains(Ip("10.0.0.1")));
}

TEST(TrustedProxiesTest, BadItemsAreErrors) {
  for (std::string_view list :
       {"garbage", "10.0.0.0/8,garbage", "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/",
        "10.0.0.0/8x", "10.0.0.0/ 8", "10.0.0.0/8/8", "/8", "10.0.0.0/0x8", "proxy.example",
        "10.0.0.1;10.0.0.2", "10.0.0.0/99999999999999999999"}) {
    std::string error;
    EXPECT_FALSE(ParseTrustedProxies(list, &error).has_value()) << list;
    EXPECT_FALSE(error.empty()) << list;
  }
  std::string error;
  ParseTrustedProxies("10.0.0.0/8, bogus-item", &error);
  EXPECT_NE(error.find("bogus-item"), std::string::npos) << error;
}

TEST(TrustedProxiesTest, FullLengthPrefixesAreAllowed) {
  EXPECT_TRUE(Proxies("10.0.0.1/32").Contains(Ip("10.0.0.1")));
  EXPECT_FALSE(Proxies("10.0.0.1/32").Contains(Ip("10.0.0.2")));
  EXPECT_TRUE(Proxies("2001:db8::1/128").Contains(Ip("2001:db8::1")));
  EXPECT_FALSE(Proxies("2001:db8::1/128").Contains(Ip("2001:db8::2")));
}

class ClientAddressTest : public ::testing::Test {
 protected:
  const ProxyList trusted_ = Proxies("10.0.0.0/8,fd00::/8");
};

TEST_F(ClientAddressTest, UntrustedPeerIgnoresForwardedFor) {
  EXPECT_EQ(ClientAddress("203.0.113.5", "198.51.100.7", trusted_), "203.0.113.5");
  EXPECT_EQ(ClientAddress("203.0.113.5", "", trusted_), "203.0.113.5");
  EXPECT_EQ(ClientAddress("203.0.113.5", "10.0.0.9", trusted_), "203.0.113.5");
  // Without trusted proxies nobody's header counts.
  EXPECT_EQ(ClientAddress("10.0.0.1", "198.51.100.7", ProxyList{}), "10.0.0.1");
}

TEST_F(ClientAddressTest, TrustedPeerTakesTheRightMostUntrustedAddress) {
  EXPECT_EQ(ClientAddress("10.0.0.1", "198.51.100.7", trusted_), "198.51.100.7");
  // The client wrote the left one itself; the proxy appended the address it saw.
  EXPECT_EQ(ClientAddress("10.0.0.1", "6.6.6.6, 198.51.100.7", trusted_), "198.51.100.7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "6.6.6.6,198.51.100.7", trusted_), "198.51.100.7");
}

TEST_F(ClientAddressTest, ChainOfTrustedProxies) {
  EXPECT_EQ(ClientAddress("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.3, 10.0.0.2", trusted_),
            "198.51.100.7");
  EXPECT_EQ(ClientAddress("fd00::1", "2001:db8::7, fd00::2", trusted_), "2001:db8::7");
}

TEST_F(ClientAddressTest, OnlyTrustedHopsCountAsTheProxy) {
  EXPECT_EQ(ClientAddress("10.0.0.1", "10.0.0.3, 10.0.0.2", trusted_), "10.0.0.1");
}

TEST_F(ClientAddressTest, MissingOrGarbageForwardedForFallsBackToThePeer) {
  EXPECT_EQ(ClientAddress("10.0.0.1", "", trusted_), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", "garbage", trusted_), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", " ", trusted_), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", ",", trusted_), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", "unknown", trusted_), "10.0.0.1");
  // Garbage where the client should be: nothing to its left is believed.
  EXPECT_EQ(ClientAddress("10.0.0.1", "198.51.100.7, garbage", trusted_), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", "198.51.100.7, garbage, 10.0.0.2", trusted_), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", "198.51.100.7,", trusted_), "10.0.0.1");
}

TEST_F(ClientAddressTest, ForwardedItemsWithPortsAndBrackets) {
  EXPECT_EQ(ClientAddress("10.0.0.1", "198.51.100.7:5555", trusted_), "198.51.100.7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "[2001:db8::7]:443", trusted_), "2001:db8::7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "[2001:db8::7]", trusted_), "2001:db8::7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "2001:db8::7", trusted_), "2001:db8::7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "  198.51.100.7\t", trusted_), "198.51.100.7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "[2001:db8::7", trusted_), "10.0.0.1");
}

TEST_F(ClientAddressTest, AddressesComeOutCanonical) {
  EXPECT_EQ(ClientAddress("::ffff:203.0.113.5", "", trusted_), "203.0.113.5");
  EXPECT_EQ(ClientAddress("2001:DB8:0::5", "", trusted_), "2001:db8::5");
  EXPECT_EQ(ClientAddress("10.0.0.1", "2001:DB8:0:0::7", trusted_), "2001:db8::7");
  EXPECT_EQ(ClientAddress("10.0.0.1", "::ffff:198.51.100.7", trusted_), "198.51.100.7");
  // A mapped peer is trusted as its IPv4 address.
  EXPECT_EQ(ClientAddress("::ffff:10.0.0.1", "198.51.100.7", trusted_), "198.51.100.7");
}

TEST_F(ClientAddressTest, NonAddressPeerIsReturnedAsItIs) {
  EXPECT_EQ(ClientAddress("unix:/run/switchboard.sock", "198.51.100.7", trusted_),
            "unix:/run/switchboard.sock");
  EXPECT_EQ(ClientAddress("", "198.51.100.7", trusted_), "");
  EXPECT_EQ(ClientAddress("localhost", "", trusted_), "localhost");
}

TEST(AddressLimitKeyTest, IPv6CountsByItsSlash64AndIPv4ByItself) {
  EXPECT_EQ(AddressLimitKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressLimitKey("2001:db8:1:2::1"), AddressLimitKey("2001:db8:1:2:ffff::9"));
  EXPECT_NE(AddressLimitKey("2001:db8:1:2::1"), AddressLimitKey("2001:db8:1:3::1"));
  EXPECT_EQ(AddressLimitKey("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(AddressLimitKey("::ffff:192.0.2.7"), "::ffff:192.0.2.7") << "as given: not v6";
  EXPECT_EQ(AddressLimitKey("localhost"), "localhost");
}

}  // namespace
}  // namespace switchboard::server
