#include "server/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace switchboard::server {

namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// An address as proxies write it: bare, "[v6]" or "[v6]:port", or "v4:port".
std::optional<IpAddress> ParseForwardedItem(std::string_view item) {
  item = Trim(item);
  if (item.starts_with('[')) {
    const size_t close = item.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return IpAddress::Parse(item.substr(1, close - 1));
  }
  if (const size_t colon = item.find(':');
      colon != std::string_view::npos && item.find(':', colon + 1) == std::string_view::npos) {
    item = item.substr(0, colon);  // one colon: IPv4 with a port
  }
  return IpAddress::Parse(item);
}

void ClearPastPrefix(IpAddress* address, int prefix_bits) {
  for (int bit = prefix_bits; bit < 128; ++bit) {
    address->bytes[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton reads up to a NUL: "1.2.3.4\0junk" must not pass for 1.2.3.4.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string nul_terminated(text);
  IpAddress address;
  in_addr v4;
  if (inet_pton(AF_INET, nul_terminated.c_str(), &v4) == 1) {
    address.bytes[10] = address.bytes[11] = 0xff;
    std::memcpy(&address.bytes[12], &v4, 4);
    return address;
  }
  if (inet_pton(AF_INET6, nul_terminated.c_str(), address.bytes.data()) == 1) return address;
  return std::nullopt;
}

bool IpAddress::is_v4() const {
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kMapped.begin(), kMapped.end(), bytes.begin());
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN];
  if (is_v4()) {
    inet_ntop(AF_INET, &bytes[12], text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
  }
  return text;
}

bool ProxyList::Contains(const IpAddress& address) const {
  for (const Range& range : ranges_) {
    IpAddress masked = address;
    ClearPastPrefix(&masked, range.prefix_bits);
    if (masked.bytes == range.base.bytes) return true;
  }
  return false;
}

std::optional<ProxyList> ParseTrustedProxies(std::string_view list, std::string* error) {
  ProxyList proxies;
  while (!Trim(list).empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    const size_t slash = item.find('/');
    std::optional<IpAddress> base = IpAddress::Parse(item.substr(0, slash));
    if (!base) {
      *error = "\"" + std::string(item) + "\" is not an address or CIDR";
      return std::nullopt;
    }
    int prefix_bits = base->is_v4() ? 32 : 128;
    if (slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix_bits);
      if (ec != std::errc() || end != bits.data() + bits.size() || prefix_bits < 0 ||
          prefix_bits > (base->is_v4() ? 32 : 128)) {
        *error = "\"" + std::string(item) + "\" has a prefix length out of range";
        return std::nullopt;
      }
    }
    if (base->is_v4()) prefix_bits += 96;
    ClearPastPrefix(&*base, prefix_bits);
    proxies.ranges_.push_back({*base, prefix_bits});
  }
  return proxies;
}

std::string ClientAddress(std::string_view peer, std::string_view forwarded_for,
                          const ProxyList& trusted) {
  const std::optional<IpAddress> peer_address = IpAddress::Parse(peer);
  if (!peer_address) return std::string(peer);
  if (!trusted.Contains(*peer_address)) return peer_address->ToString();
  // Right to left: each trusted hop vouches for the address to its left.
  while (!forwarded_for.empty()) {
    const size_t comma = forwarded_for.rfind(',');
    const std::string_view item =
        comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
    forwarded_for =
        comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    const std::optional<IpAddress> hop = ParseForwardedItem(item);
    if (!hop) break;
    if (!trusted.Contains(*hop)) return hop->ToString();
  }
  return peer_address->ToString();
}

std::string AddressLimitKey(std::string_view address) {
  std::optional<IpAddress> parsed = IpAddress::Parse(address);
  if (!parsed || parsed->is_v4()) return std::string(address);
  ClearPastPrefix(&*parsed, 64);
  return parsed->ToString() + "/64";
}

}  // namespace switchboard::server
