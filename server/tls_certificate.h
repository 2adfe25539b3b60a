// The public port's TLS certificate (--tls-cert-file, --tls-key-file), and its rotation.
//
// cert-manager renews a certificate by rewriting the files of a mounted Secret in place (a
// symlink swap), and operators send SIGHUP after replacing them by hand. Either way the new pair
// must serve the next handshakes without a restart, which would drop every open connection.
// libwebsockets builds the listener's SSL_CTX from the files once; this class loads a new pair
// into that same SSL_CTX. OpenSSL copies the certificate into each connection when it starts,
// so the open connections keep the one they began with.
//
// A new pair is read and checked in full before the serving SSL_CTX is touched: a file that
// cannot be read, is not PEM, or a key that does not match the certificate leaves the serving
// pair as it was. So does a key of another type (RSA after EC): OpenSSL would serve it beside the
// old pair rather than instead of it, so that change takes a restart.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <ctime>
#include <string>

#include "server/file_watch.h"

namespace switchboard::server {

class TlsCertificate {
 public:
  // The pair in the files at `cert_path` (PEM, the leaf first, then its chain) and `key_path`.
  TlsCertificate(std::string cert_path, std::string key_path);

  // Checks that the files hold a usable pair now, and notes their state for FilesChanged().
  // Returns false with `why` set to what is wrong.
  bool Check(std::string* why);

  // The SSL_CTX libwebsockets serves with; Reload() writes into it. Not owned.
  void Attach(SSL_CTX* serving) { serving_ = serving; }
  bool attached() const { return serving_ != nullptr; }

  // Whether either file changed since it was last checked or loaded (file_watch.h).
  bool FilesChanged() const { return files_.Changed(); }

  // Loads the files into the serving SSL_CTX. Returns false with `why` set, and the serving pair
  // untouched, when the new pair is unusable or its key is of another type. Either way the files'
  // state is noted, so a bad pair is tried again only once a file changes again.
  bool Reload(std::string* why);

  // The serving certificate's notAfter, seconds since the epoch (0 before the first Check).
  int64_t expires_at() const { return expires_at_; }

  const std::string& cert_path() const { return cert_path_; }

 private:
  struct Pair;  // the certificate, its chain and its key, read from the files
  // Reads and checks the pair, noting the files' state. False with `why` set when unusable.
  bool Read(Pair* pair, std::string* why);

  std::string cert_path_;
  std::string key_path_;
  FileWatch files_;
  SSL_CTX* serving_ = nullptr;
  int64_t expires_at_ = 0;
};

}  // namespace switchboard::server
