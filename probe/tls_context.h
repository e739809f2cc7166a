#pragma once

// TlsContext: the OpenSSL client context TCP+TLS checks make their sessions from. Verification
// runs on every handshake but never aborts it (the engine reads the result afterwards, so an
// invalid certificate still yields its expiry); no session cache and no tickets, so every check
// does a full handshake and its timing is honest.
// Thread-safety: create and use on one thread.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace pharos {

class TlsContext {
 public:
  // `ca_file`: PEM bundle of trusted CAs; empty = the system store.
  static Result<std::unique_ptr<TlsContext>> Create(const std::string& ca_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// The oldest error on this thread's OpenSSL error queue in words (then clears the queue);
// empty when there is none.
std::string TakeOpenSslError();

}  // namespace pharos
