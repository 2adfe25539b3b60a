// Which address a connection comes from, for the per-address limits (address_limits.h).
//
// Behind an ingress every connection comes from the proxy, so the proxy's X-Forwarded-For names
// the client. That header is only as honest as whoever wrote it: a client can send one of its
// own, and proxies append to what they received. So it is believed only when the socket's peer
// is a trusted proxy (--trusted-proxies), and the client is the right-most address in it that is
// not one: the first hop that no trusted proxy vouches for. Addresses are kept in their
// canonical text form (inet_ntop), an IPv4-mapped IPv6 address as its IPv4 address.
//
// Pure: no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {

// An IPv4 or IPv6 address, IPv4 held as IPv4-mapped IPv6.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  // Reads "192.0.2.1", "2001:db8::1" or "::ffff:192.0.2.1". Returns nullopt for anything else.
  static std::optional<IpAddress> Parse(std::string_view text);
  // The canonical text form ("192.0.2.1" for an IPv4 or IPv4-mapped address).
  std::string ToString() const;
  bool is_v4() const;
};

// A set of address ranges ("10.0.0.0/8,fd00::/8,192.0.2.7").
class ProxyList {
 public:
  // Whether `address` lies in one of the ranges.
  bool Contains(const IpAddress& address) const;
  bool empty() const { return ranges_.empty(); }

 private:
  friend std::optional<ProxyList> ParseTrustedProxies(std::string_view, std::string*);
  struct Range {
    IpAddress base;   // with the bits past the prefix cleared
    int prefix_bits;  // of the 128-bit form
  };
  std::vector<Range> ranges_;
};

// Reads a comma-separated list of addresses and CIDRs, spaces around items allowed; an empty
// list trusts no one. Returns nullopt with `error` set for an item that is neither.
std::optional<ProxyList> ParseTrustedProxies(std::string_view list, std::string* error);

// The client's address: `peer` (the socket's peer address, text) unless it is a trusted proxy,
// else the right-most address of `forwarded_for` (X-Forwarded-For, every copy joined with ",")
// that is not one. When that header is missing or holds something that is not an address where
// the client should be, the connection counts as the proxy's own. `peer` that is not an address
// (a Unix socket) is returned as it is.
std::string ClientAddress(std::string_view peer, std::string_view forwarded_for,
                          const ProxyList& trusted);

// What the per-address limits count `address` (a ClientAddress result) as: an IPv4 address
// itself, an IPv6 address its /64 ("2001:db8:1:2::/64"). A subscriber is given a whole /64, so
// each of its addresses is not another client. Anything else is returned as it is.
std::string AddressLimitKey(std::string_view address);

}  // namespace switchboard::server
