#include "server/token_verifier.h"

#include <json/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "server/file_watch.h"

namespace switchboard::server {

namespace {

// Far more than any connection token; what is longer is refused before it is decoded.
constexpr size_t kMaxTokenBytes = 8192;
constexpr size_t kMinSecretBytes = 32;
constexpr int kMinRsaBits = 2048;
// Each key is tried in turn for a token of its algorithm: a few, for a rotation, not a key ring.
constexpr size_t kMaxPublicKeys = 8;

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::optional<std::string> ReadFile(const std::string& path, std::string* error) {
  std::optional<std::string> contents = ReadWholeFile(path);
  if (!contents) *error = "cannot read " + path;
  return contents;
}

// Only the three parts of a JWS in compact form, each in base64url.
bool IsCompactJws(std::string_view token) {
  int dots = 0;
  for (char c : token) {
    if (c == '.') {
      ++dots;
    } else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return false;
    }
  }
  return dots == 2;
}

// The ES algorithm for an EC key's curve, or JWT_ALG_INVAL for a curve JWS has none for.
jwt_alg_t EcAlgorithm(EVP_PKEY* key) {
  char curve[64];
  size_t length = 0;
  if (EVP_PKEY_get_group_name(key, curve, sizeof(curve), &length) != 1) return JWT_ALG_INVAL;
  const std::string_view name(curve, length);
  if (name == "prime256v1") return JWT_ALG_ES256;
  if (name == "secp384r1") return JWT_ALG_ES384;
  if (name == "secp521r1") return JWT_ALG_ES512;
  return JWT_ALG_INVAL;
}

// The "alg" of the token's JOSE header, or JWT_ALG_INVAL when the header is not a JSON object
// with a known "alg", or asks for an extension ("crit") this verifier does not implement. libjwt
// cannot say: without a key it reads every token as unsigned.
jwt_alg_t HeaderAlgorithm(std::string_view token) {
  std::string header(token.substr(0, token.find('.')));
  std::replace(header.begin(), header.end(), '-', '+');
  std::replace(header.begin(), header.end(), '_', '/');
  if (header.size() % 4 == 1) return JWT_ALG_INVAL;
  header.append((4 - header.size() % 4) % 4, '=');
  std::string json(header.size() / 4 * 3, '\0');
  const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(json.data()),
                                      reinterpret_cast<const unsigned char*>(header.data()),
                                      static_cast<int>(header.size()));
  if (decoded < 0) return JWT_ALG_INVAL;
  json.resize(static_cast<size_t>(decoded) -
              static_cast<size_t>(std::count(header.begin(), header.end(), '=')));
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  if (!reader->parse(json.data(), json.data() + json.size(), &root, nullptr) || !root.isObject() ||
      !root["alg"].isString() || root.isMember("crit")) {
    return JWT_ALG_INVAL;
  }
  const std::string alg = root["alg"].asString();
  return alg == "none" ? JWT_ALG_NONE : jwt_str_alg(alg.c_str());
}

}  // namespace

std::unique_ptr<TokenVerifier> TokenVerifier::FromSecretFile(const std::string& path,
                                                             TokenPolicy policy,
                                                             std::string* error) {
  std::optional<std::string> secret = ReadFile(path, error);
  if (!secret) return nullptr;
  if (secret->ends_with('\n')) secret->pop_back();
  if (secret->ends_with('\r')) secret->pop_back();
  if (secret->size() < kMinSecretBytes) {
    *error = "the secret in " + path + " is shorter than 32 bytes";
    return nullptr;
  }
  std::vector<Key> keys{{std::move(*secret), {JWT_ALG_HS256, JWT_ALG_HS384, JWT_ALG_HS512}}};
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(keys), std::move(policy)));
}

namespace {

// The algorithms `key` may verify, or an empty list with `error` set when it cannot be used.
std::vector<jwt_alg_t> AlgorithmsOf(EVP_PKEY* key, const std::string& path, std::string* error) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
        *error = "an RSA key in " + path + " is shorter than 2048 bits";
        return {};
      }
      return {JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512};
    case EVP_PKEY_EC:
      if (const jwt_alg_t algorithm = EcAlgorithm(key); algorithm != JWT_ALG_INVAL) {
        return {algorithm};
      }
      *error = "an EC key in " + path + " is not on P-256, P-384 or P-521";
      return {};
    default:
      *error = "a key in " + path + " is neither RSA nor EC";
      return {};
  }
}

// `key` alone, as PEM text: what libjwt takes.
std::string PemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pem;
  if (PEM_write_bio_PUBKEY(bio, key) == 1) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(length));
  }
  BIO_free(bio);
  return pem;
}

}  // namespace

std::unique_ptr<TokenVerifier> TokenVerifier::FromPublicKeyFile(const std::string& path,
                                                                TokenPolicy policy,
                                                                std::string* error) {
  std::optional<std::string> pem = ReadFile(path, error);
  if (!pem) return nullptr;
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  std::vector<Key> keys;
  while (EVP_PKEY* read = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr)) {
    const std::unique_ptr<EVP_PKEY, PkeyFree> key(read);
    std::vector<jwt_alg_t> algorithms = AlgorithmsOf(key.get(), path, error);
    if (algorithms.empty() || keys.size() == kMaxPublicKeys) {
      if (!algorithms.empty()) *error = path + " holds more than 8 public keys";
      BIO_free(bio);
      return nullptr;
    }
    keys.push_back(Key{PemOf(key.get()), std::move(algorithms)});
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the file reads as an error
  if (keys.empty()) {
    *error = path + " holds no PEM public key (-----BEGIN PUBLIC KEY-----)";
    return nullptr;
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(keys), std::move(policy)));
}

std::optional<TokenClaims> TokenVerifier::Verify(std::string_view token, int64_t now_seconds,
                                                 std::string* why) const {
  if (token.size() > kMaxTokenBytes || !IsCompactJws(token)) {
    *why = "the token is not a signed JWT";
    return std::nullopt;
  }
  const jwt_alg_t algorithm = HeaderAlgorithm(token);
  if (algorithm == JWT_ALG_INVAL) {
    *why = "the token's header is malformed";
    return std::nullopt;
  }
  const std::string text(token);  // libjwt wants it NUL-terminated
  bool any_key_signs_it = false;
  jwt_t* decoded = nullptr;
  for (const Key& key : keys_) {
    if (std::find(key.algorithms.begin(), key.algorithms.end(), algorithm) ==
        key.algorithms.end()) {
      continue;
    }
    any_key_signs_it = true;
    if (jwt_decode(&decoded, text.c_str(),
                   reinterpret_cast<const unsigned char*>(key.material.data()),
                   static_cast<int>(key.material.size())) == 0) {
      break;
    }
    decoded = nullptr;
  }
  if (!any_key_signs_it) {
    *why = "the token's algorithm is not one this key signs with";
    return std::nullopt;
  }
  if (decoded == nullptr) {
    *why = "the token's signature does not verify";
    return std::nullopt;
  }
  const JwtPtr verified(decoded);
  // libjwt verified with the algorithm it read from the header, which must be the one pinned.
  if (jwt_get_alg(verified.get()) != algorithm) {
    *why = "the token's algorithm is not one this key signs with";
    return std::nullopt;
  }
  char* claims_json = jwt_get_grants_json(verified.get(), nullptr);
  if (claims_json == nullptr) {
    *why = "the token has no claims";
    return std::nullopt;
  }
  std::optional<TokenClaims> claims = CheckTokenClaims(claims_json, policy_, now_seconds, why);
  free(claims_json);
  return claims;
}

}  // namespace switchboard::server
