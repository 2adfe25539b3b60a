// What a connection token's claims allow, once its signature has been checked (token_verifier.h).
//
// A signed token is only as good as the checks made on its claims: libjwt verifies signatures but
// validates no claim, so every rule lives here, where it is tested and fuzzed without keys.
// The rules (docs/security.md):
//   - "sub" (a string) is the peer id the connection may claim, and nothing else.
//   - "exp" (a NumericDate, seconds since the epoch) is required: a token that never expires
//     could not be taken back. It must be later than now - leeway.
//   - "nbf", when present, must be no later than now + leeway.
//   - "aud" (a string or an array of strings) must contain the configured audience, if any;
//     "iss" must equal the configured issuer, if any.
//   - "send_to", when present, is an array of the peer ids the connection may send to; an item
//     ending in "*" stands for every id that starts with what comes before it ("room1-*"). When
//     absent the connection may send to anyone.
//
// Pure: time is passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {

// What the operator asks of every token (--auth-audience, --auth-issuer, --auth-leeway-seconds).
struct TokenPolicy {
  std::string audience;  // empty: any (or no) "aud"
  std::string issuer;    // empty: any (or no) "iss"
  int64_t leeway_seconds = 60;
};

// The ids a token may send to ("send_to"). Default: anyone.
class SendPermission {
 public:
  // Anyone.
  SendPermission() = default;
  // Only the ids `patterns` name: exact ids, or prefixes ending in "*".
  explicit SendPermission(std::vector<std::string> patterns)
      : restricted_(true), patterns_(std::move(patterns)) {}

  // Whether a message may be sent to `peer`.
  bool Allows(std::string_view peer) const;

 private:
  bool restricted_ = false;
  std::vector<std::string> patterns_;
};

// A token's claims, as far as they matter here.
struct TokenClaims {
  std::string subject;      // "sub"
  int64_t expires_at = 0;   // "exp", seconds since the epoch (rounded down)
  SendPermission may_send;  // "send_to"
};

// Reads the claims from `payload_json` (the token's decoded payload, a JSON object) and checks
// them against `policy` at `now_seconds` (since the epoch). Returns the claims, or nullopt with
// `why` set to a short reason fit for a log line (it never quotes the token or a claim's value).
// Never throws, whatever the bytes.
std::optional<TokenClaims> CheckTokenClaims(std::string_view payload_json,
                                            const TokenPolicy& policy, int64_t now_seconds,
                                            std::string* why);

}  // namespace switchboard::server
