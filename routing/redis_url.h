// Where the Redis backend connects: parsed from redis://[[user]:password@]host[:port][/db].
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::routing {

struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string user;      // empty: the default user (AUTH with the password alone)
  std::string password;  // empty: no AUTH
  int db = 0;
};

// Parses `url`. Returns nullopt and sets `error` when it is not a redis:// URL of that shape
// (unknown scheme, empty host, port or db not a number in range). Percent-escapes in the user
// and password are decoded.
std::optional<RedisAddress> ParseRedisUrl(std::string_view url, std::string* error);

}  // namespace switchboard::routing
