// Which web origins may open a WebSocket or read the HTTP routes' answers (CORS).
//
// Browsers send the page's origin ("https://app.example.com", "http://localhost:3000") with
// every WebSocket handshake and cross-origin request; nothing else in the handshake tells a page
// on an attacker's site from one on the operator's. The list is compared with it exactly, except
// that `*` in a pattern's host stands for one or more characters of a host name, so
// "https://*.example.com" covers "https://a.example.com" and "https://a.b.example.com" but
// neither "https://example.com" nor "http://a.example.com". A request without an Origin is not a
// browser's and is not judged here.
//
// Pure: parsed once from the flag, then read-only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {

class OriginAllowlist {
 public:
  // Reads a comma-separated list of "*" (any origin) and "<scheme>://<host>[:<port>]" patterns,
  // spaces around items allowed. Returns nullopt with `error` set for an empty list, an item that
  // is not an origin (a path, a `*` outside the host, a character that cannot be in a host), or a
  // port that is not a number. Case does not matter.
  static std::optional<OriginAllowlist> Parse(std::string_view list, std::string* error);

  // Whether a request whose Origin header is `origin` is let in. "null" (a sandboxed page, a
  // file) only if listed as such, or with "*".
  bool Allows(std::string_view origin) const;

  // The list is "*": every origin is let in.
  bool allows_any() const { return any_; }

 private:
  bool any_ = false;
  std::vector<std::string> patterns_;  // lower case
};

}  // namespace switchboard::server
