// routing::ParseRedisUrl (routing/redis_url.h): the --redis-url flag.
//
// An address it returns has a host, a port from 1 to 65535 and a database in range, and says
// the same once written back as a URL (user and password percent-encoded, an IPv6 host in
// brackets) and parsed again. A refusal always says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/redis_url.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using switchboard::routing::ParseRedisUrl;
using switchboard::routing::RedisAddress;

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

std::string Format(const RedisAddress& address) {
  std::string url = "redis://";
  if (!address.user.empty()) {
    url += PercentEncode(address.user) + ":" + PercentEncode(address.password) + "@";
  } else if (!address.password.empty()) {
    url += ":" + PercentEncode(address.password) + "@";
  }
  const bool bracketed = address.host.find(':') != std::string::npos;
  url += bracketed ? "[" + address.host + "]" : address.host;
  return url + ":" + std::to_string(address.port) + "/" + std::to_string(address.db);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto address = ParseRedisUrl(url, &error);
  if (!address) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(!address->host.empty());
  FUZZ_CHECK(address->port >= 1 && address->port <= 65535);
  FUZZ_CHECK(address->db >= 0 && address->db <= (1 << 20));
  // The host is what is left once credentials, port and database are taken off.
  FUZZ_CHECK(address->host.find('@') == std::string::npos);
  FUZZ_CHECK(address->host.find('/') == std::string::npos);

  // A host holding a bracket cannot be written back unambiguously; it is left out.
  if (address->host.find_first_of("[]") != std::string::npos) return 0;
  const std::string again_url = Format(*address);
  std::string again_error;
  const auto again = ParseRedisUrl(again_url, &again_error);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->host == address->host && again->port == address->port &&
             again->user == address->user && again->password == address->password &&
             again->db == address->db);
  return 0;
}
