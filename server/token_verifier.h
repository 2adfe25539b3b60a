// Checks connection tokens (JWS compact form, RFC 7515/7519) against the operator's key.
//
// The signature is verified by libjwt, on OpenSSL. libjwt takes the algorithm from the token's
// own header, so the verifier pins the algorithms the key allows before trusting its answer: an
// HMAC secret accepts only HS256/384/512, an RSA public key only RS256/384/512, an EC public key
// only the ES algorithm of its curve. Without that pin, a token signed with HS256 using the RSA
// public key (which is public) as the secret would pass, and so would `alg: none`. The claims are
// then checked by token_claims.h.
#pragma once

#include <jwt.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/token_claims.h"

namespace switchboard::server {

class TokenVerifier {
 public:
  // A verifier for tokens signed with the HMAC secret in the file at `path` (one trailing newline
  // is not part of the secret). Returns nullptr with `error` set when the file cannot be read or
  // the secret is shorter than 32 bytes (RFC 7518 asks for at least the hash's size).
  static std::unique_ptr<TokenVerifier> FromSecretFile(const std::string& path, TokenPolicy policy,
                                                       std::string* error);

  // A verifier for tokens signed with the private half of any of the RSA or EC public keys in the
  // PEM file at `path` (one, or up to 8 one after another: the issuer's next key can be added
  // before it signs with it, and the old one removed once its tokens have expired). Returns
  // nullptr with `error` set when the file holds no such public key, or one that cannot be used.
  static std::unique_ptr<TokenVerifier> FromPublicKeyFile(const std::string& path,
                                                          TokenPolicy policy, std::string* error);

  // Checks `token` at `now_seconds` (since the epoch): its form, its algorithm, its signature, its
  // claims. Returns the claims, or nullopt with `why` set to a short reason for a log line, which
  // never quotes the token.
  std::optional<TokenClaims> Verify(std::string_view token, int64_t now_seconds,
                                    std::string* why) const;

  const TokenPolicy& policy() const { return policy_; }

 private:
  struct Key {
    std::string material;               // the secret, or the PEM text of one public key
    std::vector<jwt_alg_t> algorithms;  // what it may verify
  };

  TokenVerifier(std::vector<Key> keys, TokenPolicy policy)
      : keys_(std::move(keys)), policy_(std::move(policy)) {}

  std::vector<Key> keys_;
  TokenPolicy policy_;
};

}  // namespace switchboard::server
