#include "routing/redis_url.h"

#include <charconv>

namespace switchboard::routing {

namespace {

bool ParseInt(std::string_view text, int min, int max, int* out) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<RedisAddress> ParseRedisUrl(std::string_view url, std::string* error) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    *error = "expected redis://[[user]:password@]host[:port][/db]";
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress address;

  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = credentials.find(':');
    const auto user = PercentDecode(credentials.substr(0, colon));
    const auto password = PercentDecode(
        colon == std::string_view::npos ? std::string_view() : credentials.substr(colon + 1));
    if (!user || !password) {
      *error = "bad percent-escape in the credentials";
      return std::nullopt;
    }
    // redis://secret@host is read as a password, as redis-cli does.
    if (colon == std::string_view::npos) {
      address.password = *user;
    } else {
      address.user = *user;
      address.password = *password;
    }
  }

  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 1 << 20, &address.db)) {
      *error = "the database must be a number";
      return std::nullopt;
    }
    rest = rest.substr(0, slash);
  }

  std::string_view host = rest;
  if (host.starts_with('[')) {  // [IPv6]:port
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      *error = "unclosed [ in the host";
      return std::nullopt;
    }
    rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
  } else {
    const size_t colon = host.rfind(':');
    rest = colon == std::string_view::npos ? std::string_view() : host.substr(colon);
    host = host.substr(0, colon);
  }
  if (!rest.empty()) {
    if (!rest.starts_with(':') || !ParseInt(rest.substr(1), 1, 65535, &address.port)) {
      *error = "the port must be a number from 1 to 65535";
      return std::nullopt;
    }
  }
  if (host.empty()) {
    *error = "the host is missing";
    return std::nullopt;
  }
  address.host = std::string(host);
  return address;
}

}  // namespace switchboard::routing
