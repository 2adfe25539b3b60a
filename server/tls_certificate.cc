#include "server/tls_certificate.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace switchboard::server {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

struct ChainFree {
  void operator()(STACK_OF(X509) * chain) const { sk_X509_pop_free(chain, X509_free); }
};
using ChainPtr = std::unique_ptr<STACK_OF(X509), ChainFree>;

// `what`, with the last OpenSSL error in words; the error queue is emptied (it is per thread,
// and a stale entry would be blamed on the next call).
std::string OpenSslError(const std::string& what) {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return what;
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return what + " (" + text + ")";
}

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
}

int64_t NotAfter(X509* leaf) {
  std::tm when{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &when) != 1) return 0;
  return static_cast<int64_t>(timegm(&when));
}

}  // namespace

struct TlsCertificate::Pair {
  X509Ptr leaf{nullptr, X509_free};
  ChainPtr chain{sk_X509_new_null()};
  KeyPtr key{nullptr, EVP_PKEY_free};
};

TlsCertificate::TlsCertificate(std::string cert_path, std::string key_path)
    : cert_path_(std::move(cert_path)),
      key_path_(std::move(key_path)),
      files_({cert_path_, key_path_}) {}

bool TlsCertificate::Read(Pair* pair, std::string* why) {
  files_.Note();
  const std::optional<std::string> cert_text = ReadWholeFile(cert_path_);
  const std::optional<std::string> key_text = ReadWholeFile(key_path_);
  if (!cert_text) {
    *why = "cannot read the certificate file " + cert_path_;
    return false;
  }
  if (!key_text) {
    *why = "cannot read the key file " + key_path_;
    return false;
  }
  BioPtr certs = MemoryBio(*cert_text);
  pair->leaf.reset(PEM_read_bio_X509_AUX(certs.get(), nullptr, nullptr, nullptr));
  if (pair->leaf == nullptr) {
    *why = OpenSslError("no PEM certificate in " + cert_path_);
    return false;
  }
  while (X509* link = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(pair->chain.get(), link);
  }
  ERR_clear_error();  // the end of the file reads as an error
  // No passphrase: OpenSSL's default would ask for one on the terminal, blocking the loop.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  pair->key.reset(
      PEM_read_bio_PrivateKey(MemoryBio(*key_text).get(), nullptr, no_passphrase, nullptr));
  if (pair->key == nullptr) {
    *why = OpenSslError("no PEM private key in " + key_path_);
    return false;
  }
  if (X509_check_private_key(pair->leaf.get(), pair->key.get()) != 1) {
    *why = OpenSslError("the key in " + key_path_ + " does not match the certificate");
    return false;
  }
  return true;
}

bool TlsCertificate::Check(std::string* why) {
  Pair pair;
  if (!Read(&pair, why)) return false;
  expires_at_ = NotAfter(pair.leaf.get());
  return true;
}

bool TlsCertificate::Reload(std::string* why) {
  Pair pair;
  if (!Read(&pair, why)) return false;
  if (serving_ == nullptr) {
    *why = "no TLS listener to load it into";
    return false;
  }
  // OpenSSL keeps one certificate per key type and picks among them per handshake, so an RSA pair
  // loaded beside an EC one would not replace it.
  EVP_PKEY* serving_key = SSL_CTX_get0_privatekey(serving_);
  if (serving_key != nullptr &&
      EVP_PKEY_get_base_id(serving_key) != EVP_PKEY_get_base_id(pair.key.get())) {
    *why = std::string("the new key is ") + EVP_PKEY_get0_type_name(pair.key.get()) +
           " and the serving one " + EVP_PKEY_get0_type_name(serving_key) +
           ": a change of key type takes a restart";
    return false;
  }
  // A matching pair, so none of these can refuse it; SSL_CTX_use_PrivateKey checks the key
  // against the certificate just set.
  if (SSL_CTX_use_certificate(serving_, pair.leaf.get()) != 1 ||
      SSL_CTX_set1_chain(serving_, pair.chain.get()) != 1 ||
      SSL_CTX_use_PrivateKey(serving_, pair.key.get()) != 1) {
    *why = OpenSslError("OpenSSL refused the new pair");
    return false;
  }
  expires_at_ = NotAfter(pair.leaf.get());
  return true;
}

}  // namespace switchboard::server
