#include "server/token_verifier.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::server {
namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-secret";  // 39 bytes

// A directory of its own under TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "token_verifier_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `contents` to the file `name` in the directory, and returns its path.
  std::string Write(const std::string& name, std::string_view contents) const {
    const std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return file;
  }

 private:
  std::string path_;
};

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string Pem(EVP_PKEY* key, bool private_half) {
  BIO* bio = BIO_new(BIO_s_mem());
  const int written =
      private_half ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                   : PEM_write_bio_PUBKEY(bio, key);
  std::string pem;
  if (written == 1) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(size));
  }
  BIO_free(bio);
  return pem;
}

struct KeyPair {
  std::string public_pem;
  std::string private_pem;
};

KeyPair Pems(EVP_PKEY* key) {
  KeyPair pair{Pem(key, false), Pem(key, true)};
  EVP_PKEY_free(key);
  return pair;
}

KeyPair RsaKey(unsigned int bits) { return Pems(EVP_RSA_gen(bits)); }
KeyPair EcKey(const char* curve) { return Pems(EVP_EC_gen(curve)); }

// A token signed by libjwt with `alg` and `key`, holding `grants_json`; "" on failure.
std::string Sign(jwt_alg_t alg, std::string_view key, const std::string& grants_json) {
  jwt_t* jwt = nullptr;
  if (jwt_new(&jwt) != 0) return "";
  std::string token;
  if (jwt_add_grants_json(jwt, grants_json.c_str()) == 0 &&
      jwt_set_alg(jwt, alg,
                  key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) == 0) {
    if (char* encoded = jwt_encode_str(jwt); encoded != nullptr) {
      token = encoded;
      free(encoded);
    }
  }
  jwt_free(jwt);
  return token;
}

std::string Claims(std::string_view sub = "alice", int64_t exp = kNow + 300) {
  return "{\"sub\":\"" + std::string(sub) + "\",\"exp\":" + std::to_string(exp) + "}";
}

// A token signed by libjwt with HS256 over the usual claims, built with the grant calls.
std::string SignHs256WithGrants(std::string_view secret, std::string_view sub) {
  jwt_t* jwt = nullptr;
  if (jwt_new(&jwt) != 0) return "";
  std::string token;
  if (jwt_add_grant(jwt, "sub", std::string(sub).c_str()) == 0 &&
      jwt_add_grant_int(jwt, "exp", static_cast<long>(kNow + 300)) == 0 &&
      jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                  static_cast<int>(secret.size())) == 0) {
    if (char* encoded = jwt_encode_str(jwt); encoded != nullptr) {
      token = encoded;
      free(encoded);
    }
  }
  jwt_free(jwt);
  return token;
}

std::string Base64Url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string UnsignedToken(std::string_view header_json, std::string_view claims_json,
                          std::string_view signature = "") {
  return Base64Url(header_json) + "." + Base64Url(claims_json) + "." + std::string(signature);
}

class TokenVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new KeyPair(RsaKey(2048));
    other_rsa_ = new KeyPair(RsaKey(2048));
    p256_ = new KeyPair(EcKey("P-256"));
    p384_ = new KeyPair(EcKey("P-384"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete other_rsa_;
    delete p256_;
    delete p384_;
  }

  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_FALSE(rsa_->public_pem.empty());
    ASSERT_FALSE(p256_->private_pem.empty());
    ASSERT_FALSE(p384_->private_pem.empty());
  }

  std::unique_ptr<TokenVerifier> SecretVerifier(std::string_view file_contents,
                                                TokenPolicy policy = {}) {
    std::string error;
    std::unique_ptr<TokenVerifier> verifier =
        TokenVerifier::FromSecretFile(dir_.Write("secret", file_contents), policy, &error);
    EXPECT_NE(verifier, nullptr) << error;
    return verifier;
  }

  std::unique_ptr<TokenVerifier> KeyVerifier(std::string_view pem, TokenPolicy policy = {}) {
    std::string error;
    std::unique_ptr<TokenVerifier> verifier =
        TokenVerifier::FromPublicKeyFile(dir_.Write("key.pem", pem), policy, &error);
    EXPECT_NE(verifier, nullptr) << error;
    return verifier;
  }

  // Expects `token` to be refused, with a reason that does not quote it.
  static void ExpectRefused(const TokenVerifier& verifier, const std::string& token,
                            std::string_view reason_part = "") {
    std::string why;
    EXPECT_FALSE(verifier.Verify(token, kNow, &why)) << token;
    EXPECT_FALSE(why.empty());
    if (!token.empty()) {
      EXPECT_EQ(why.find(token), std::string::npos) << why;
    }
    const size_t signature = token.rfind('.');
    if (signature != std::string::npos && token.size() - signature > 8) {
      EXPECT_EQ(why.find(token.substr(signature + 1)), std::string::npos) << why;
    }
    if (!reason_part.empty()) {
      EXPECT_NE(why.find(reason_part), std::string::npos) << why;
    }
  }

  static KeyPair* rsa_;
  static KeyPair* other_rsa_;
  static KeyPair* p256_;
  static KeyPair* p384_;
  TempDir dir_;
};

KeyPair* TokenVerifierTest::rsa_ = nullptr;
KeyPair* TokenVerifierTest::other_rsa_ = nullptr;
KeyPair* TokenVerifierTest::p256_ = nullptr;
KeyPair* TokenVerifierTest::p384_ = nullptr;

TEST_F(TokenVerifierTest, ValidHs256Passes) {
  const auto verifier = SecretVerifier(kSecret);
  ASSERT_NE(verifier, nullptr);
  const std::string token = SignHs256WithGrants(kSecret, "alice");
  ASSERT_FALSE(token.empty());
  std::string why;
  const std::optional<TokenClaims> claims = verifier->Verify(token, kNow, &why);
  ASSERT_TRUE(claims.has_value()) << why;
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_EQ(claims->expires_at, kNow + 300);
}

TEST_F(TokenVerifierTest, Hs384AndHs512PassWithASecret) {
  const auto verifier = SecretVerifier(kSecret);
  ASSERT_NE(verifier, nullptr);
  for (jwt_alg_t alg : {JWT_ALG_HS384, JWT_ALG_HS512}) {
    const std::string token = Sign(alg, kSecret, Claims("bob"));
    ASSERT_FALSE(token.empty());
    std::string why;
    const std::optional<TokenClaims> claims = verifier->Verify(token, kNow, &why);
    ASSERT_TRUE(claims.has_value()) << jwt_alg_str(alg) << ": " << why;
    EXPECT_EQ(claims->subject, "bob");
  }
}

TEST_F(TokenVerifierTest, OneTrailingNewlineIsNotPartOfTheSecret) {
  const auto verifier = SecretVerifier(kSecret + "\n");
  ASSERT_NE(verifier, nullptr);
  std::string why;
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_HS256, kSecret, Claims()), kNow, &why)) << why;
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, kSecret + "\n", Claims()), "signature");
}

TEST_F(TokenVerifierTest, WrongSecretIsRefused) {
  const auto verifier = SecretVerifier(kSecret);
  ASSERT_NE(verifier, nullptr);
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, kSecret + "x", Claims()), "signature");
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, std::string(40, 'z'), Claims()), "signature");
}

TEST_F(TokenVerifierTest, TamperedClaimsAreRefused) {
  const auto verifier = SecretVerifier(kSecret);
  ASSERT_NE(verifier, nullptr);
  const std::string token = Sign(JWT_ALG_HS256, kSecret, Claims("alice"));
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  const std::string forged =
      token.substr(0, first + 1) + Base64Url(Claims("mallory")) + token.substr(second);
  ExpectRefused(*verifier, forged, "signature");
}

TEST_F(TokenVerifierTest, ShortSecretIsRefusedAtLoad) {
  std::string error;
  EXPECT_EQ(TokenVerifier::FromSecretFile(dir_.Write("short", std::string(31, 's')), {}, &error),
            nullptr);
  EXPECT_FALSE(error.empty());
  error.clear();
  // The newline does not count toward the length.
  EXPECT_EQ(TokenVerifier::FromSecretFile(dir_.Write("short_nl", std::string(31, 's') + "\n"), {},
                                          &error),
            nullptr);
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_EQ(TokenVerifier::FromSecretFile(dir_.Write("empty", ""), {}, &error), nullptr);
  EXPECT_FALSE(error.empty());
  EXPECT_NE(TokenVerifier::FromSecretFile(dir_.Write("exact", std::string(32, 's')), {}, &error),
            nullptr)
      << error;
}

TEST_F(TokenVerifierTest, MissingSecretFileIsAnError) {
  std::string error;
  EXPECT_EQ(TokenVerifier::FromSecretFile(dir_.path() + "/absent", {}, &error), nullptr);
  EXPECT_FALSE(error.empty());
}

TEST_F(TokenVerifierTest, AlgNoneIsRefused) {
  const auto secret_verifier = SecretVerifier(kSecret);
  const auto rsa_verifier = KeyVerifier(rsa_->public_pem);
  ASSERT_NE(secret_verifier, nullptr);
  ASSERT_NE(rsa_verifier, nullptr);
  const std::string unsigned_token = UnsignedToken("{\"alg\":\"none\",\"typ\":\"JWT\"}", Claims());
  const std::string with_signature =
      UnsignedToken("{\"alg\":\"none\"}", Claims(), Base64Url("not a signature"));
  for (const TokenVerifier* verifier : {secret_verifier.get(), rsa_verifier.get()}) {
    ExpectRefused(*verifier, unsigned_token);
    ExpectRefused(*verifier, with_signature);
    ExpectRefused(*verifier, UnsignedToken("{\"alg\":\"None\"}", Claims()));
    ExpectRefused(*verifier, UnsignedToken("{\"typ\":\"JWT\"}", Claims()));
  }
  // libjwt's own unsigned tokens too.
  const std::string libjwt_none = Sign(JWT_ALG_NONE, "", Claims());
  ASSERT_FALSE(libjwt_none.empty());
  ExpectRefused(*secret_verifier, libjwt_none);
  ExpectRefused(*rsa_verifier, libjwt_none);
}

TEST_F(TokenVerifierTest, Hs256SignedWithThePublicKeyIsRefusedByAnRsaVerifier) {
  const auto verifier = KeyVerifier(rsa_->public_pem);
  ASSERT_NE(verifier, nullptr);
  const std::string forged = Sign(JWT_ALG_HS256, rsa_->public_pem, Claims("mallory"));
  ASSERT_FALSE(forged.empty());
  ExpectRefused(*verifier, forged, "algorithm");
  // The same with the PEM text minus its trailing newline, as some forgers try.
  std::string trimmed = rsa_->public_pem;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, trimmed, Claims("mallory")), "algorithm");
}

TEST_F(TokenVerifierTest, HsSignedWithThePublicKeyIsRefusedByAnEcVerifier) {
  const auto verifier = KeyVerifier(p256_->public_pem);
  ASSERT_NE(verifier, nullptr);
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, p256_->public_pem, Claims("mallory")), "algorithm");
}

TEST_F(TokenVerifierTest, ValidRs256Passes) {
  const auto verifier = KeyVerifier(rsa_->public_pem);
  ASSERT_NE(verifier, nullptr);
  const std::string token = Sign(JWT_ALG_RS256, rsa_->private_pem, Claims("carol"));
  ASSERT_FALSE(token.empty());
  std::string why;
  const std::optional<TokenClaims> claims = verifier->Verify(token, kNow, &why);
  ASSERT_TRUE(claims.has_value()) << why;
  EXPECT_EQ(claims->subject, "carol");
  // RS384 and RS512 are the same key's too.
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_RS384, rsa_->private_pem, Claims()), kNow, &why))
      << why;
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_RS512, rsa_->private_pem, Claims()), kNow, &why))
      << why;
}

TEST_F(TokenVerifierTest, Rs256SignedWithAnotherKeyIsRefused) {
  const auto verifier = KeyVerifier(rsa_->public_pem);
  ASSERT_NE(verifier, nullptr);
  ExpectRefused(*verifier, Sign(JWT_ALG_RS256, other_rsa_->private_pem, Claims()), "signature");
}

TEST_F(TokenVerifierTest, ValidEs256Passes) {
  const auto verifier = KeyVerifier(p256_->public_pem);
  ASSERT_NE(verifier, nullptr);
  const std::string token = Sign(JWT_ALG_ES256, p256_->private_pem, Claims("dave"));
  ASSERT_FALSE(token.empty());
  std::string why;
  const std::optional<TokenClaims> claims = verifier->Verify(token, kNow, &why);
  ASSERT_TRUE(claims.has_value()) << why;
  EXPECT_EQ(claims->subject, "dave");
}

// A file of several keys, for a rotation: each verifies tokens of its own algorithm, and an
// algorithm no key signs with is refused before any signature check.
TEST_F(TokenVerifierTest, SeveralKeysInOneFileEachVerifyTheirTokens) {
  const auto verifier = KeyVerifier(rsa_->public_pem + other_rsa_->public_pem + p256_->public_pem);
  ASSERT_NE(verifier, nullptr);
  std::string why;
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_RS256, rsa_->private_pem, Claims()), kNow, &why))
      << why;
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_RS512, other_rsa_->private_pem, Claims()), kNow, &why))
      << why;
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_ES256, p256_->private_pem, Claims()), kNow, &why))
      << why;
  ExpectRefused(*verifier, Sign(JWT_ALG_ES384, p384_->private_pem, Claims()), "algorithm");
  const KeyPair stranger = RsaKey(2048);
  ExpectRefused(*verifier, Sign(JWT_ALG_RS256, stranger.private_pem, Claims()), "signature");
}

TEST_F(TokenVerifierTest, MoreThanEightKeysOrOneBadKeyIsAnError) {
  std::string many;
  for (int i = 0; i < 9; ++i) many += p256_->public_pem;
  std::string error;
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.Write("many.pem", many), {}, &error), nullptr);
  EXPECT_NE(error.find("more than 8"), std::string::npos) << error;
  const KeyPair weak = RsaKey(1024);
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(
                dir_.Write("mixed.pem", p256_->public_pem + weak.public_pem), {}, &error),
            nullptr);
  EXPECT_NE(error.find("2048"), std::string::npos) << error;
}

TEST_F(TokenVerifierTest, ValidEs384PassesWithAP384Key) {
  const auto verifier = KeyVerifier(p384_->public_pem);
  ASSERT_NE(verifier, nullptr);
  std::string why;
  EXPECT_TRUE(verifier->Verify(Sign(JWT_ALG_ES384, p384_->private_pem, Claims()), kNow, &why))
      << why;
}

TEST_F(TokenVerifierTest, Es384TokenIsRefusedByAP256Key) {
  const auto verifier = KeyVerifier(p256_->public_pem);
  ASSERT_NE(verifier, nullptr);
  const std::string token = Sign(JWT_ALG_ES384, p384_->private_pem, Claims());
  ASSERT_FALSE(token.empty());
  ExpectRefused(*verifier, token, "algorithm");
}

TEST_F(TokenVerifierTest, AlgorithmsOfTheOtherKeyTypeAreRefused) {
  const auto rsa_verifier = KeyVerifier(rsa_->public_pem);
  const auto ec_verifier = KeyVerifier(p256_->public_pem);
  const auto secret_verifier = SecretVerifier(kSecret);
  ASSERT_NE(rsa_verifier, nullptr);
  ASSERT_NE(ec_verifier, nullptr);
  ASSERT_NE(secret_verifier, nullptr);
  const std::string es256 = Sign(JWT_ALG_ES256, p256_->private_pem, Claims());
  const std::string rs256 = Sign(JWT_ALG_RS256, rsa_->private_pem, Claims());
  ExpectRefused(*rsa_verifier, es256, "algorithm");
  ExpectRefused(*ec_verifier, rs256, "algorithm");
  ExpectRefused(*secret_verifier, rs256, "algorithm");
  ExpectRefused(*secret_verifier, es256, "algorithm");
}

TEST_F(TokenVerifierTest, ClaimsAreCheckedAfterTheSignature) {
  TokenPolicy policy;
  policy.audience = "switchboard";
  const auto verifier = SecretVerifier(kSecret, policy);
  ASSERT_NE(verifier, nullptr);
  EXPECT_EQ(verifier->policy().audience, "switchboard");
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, kSecret, Claims("alice", kNow - 3600)), "expired");
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, kSecret, Claims()), "aud");
  std::string why;
  EXPECT_TRUE(verifier->Verify(
      Sign(JWT_ALG_HS256, kSecret,
           "{\"sub\":\"alice\",\"exp\":" + std::to_string(kNow + 60) + ",\"aud\":\"switchboard\"}"),
      kNow, &why))
      << why;
  ExpectRefused(*verifier, Sign(JWT_ALG_HS256, kSecret, "{\"exp\":1800000000}"), "sub");
}

TEST_F(TokenVerifierTest, MalformedTokensAreRefused) {
  const auto verifier = SecretVerifier(kSecret);
  ASSERT_NE(verifier, nullptr);
  const std::string valid = Sign(JWT_ALG_HS256, kSecret, Claims());
  ASSERT_FALSE(valid.empty());
  const std::string two_parts = valid.substr(0, valid.rfind('.'));
  for (const std::string& token :
       {std::string(), std::string("garbage"), std::string("."), std::string(".."),
        std::string("a.b.c"), two_parts, valid + ".extra", valid + "=", " " + valid, valid + "\n",
        "Bearer " + valid, std::string(valid).replace(0, 1, "!"),
        std::string(9000, 'a') + "." + "b.c"}) {
    ExpectRefused(*verifier, token);
  }
  // A header that is not JSON, or asks for an extension.
  ExpectRefused(*verifier, UnsignedToken("not json", Claims(), "c2ln"), "header");
  ExpectRefused(*verifier, UnsignedToken("[\"HS256\"]", Claims(), "c2ln"), "header");
  ExpectRefused(
      *verifier,
      UnsignedToken("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", Claims(), "c2ln"),
      "header");
  ExpectRefused(*verifier, UnsignedToken("{\"alg\":\"XS256\"}", Claims(), "c2ln"), "header");
  ExpectRefused(*verifier, "A.B.C");  // a header of one base64 character
}

TEST_F(TokenVerifierTest, NonPemPublicKeyFileIsAnError) {
  std::string error;
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.Write("garbage.pem", "not a key\n"), {}, &error),
            nullptr);
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.Write("empty.pem", ""), {}, &error), nullptr);
  EXPECT_FALSE(error.empty());
  error.clear();
  // A private key is not the public key asked for.
  EXPECT_EQ(
      TokenVerifier::FromPublicKeyFile(dir_.Write("private.pem", rsa_->private_pem), {}, &error),
      nullptr);
  EXPECT_FALSE(error.empty());
  error.clear();
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.path() + "/absent.pem", {}, &error), nullptr);
  EXPECT_FALSE(error.empty());
}

TEST_F(TokenVerifierTest, WeakOrUnsupportedPublicKeysAreErrors) {
  std::string error;
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.Write("rsa1024.pem", RsaKey(1024).public_pem), {},
                                             &error),
            nullptr);
  EXPECT_NE(error.find("2048"), std::string::npos) << error;
  error.clear();
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.Write("k1.pem", EcKey("secp256k1").public_pem),
                                             {}, &error),
            nullptr);
  EXPECT_FALSE(error.empty());
  error.clear();
  const KeyPair ed25519 = Pems(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_FALSE(ed25519.public_pem.empty());
  EXPECT_EQ(TokenVerifier::FromPublicKeyFile(dir_.Write("ed.pem", ed25519.public_pem), {}, &error),
            nullptr);
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace switchboard::server
