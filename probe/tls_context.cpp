#include "probe/tls_context.h"

#include <openssl/err.h>

namespace pharos {

Result<std::unique_ptr<TlsContext>> TlsContext::Create(const std::string& ca_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Error{"cannot create a TLS context: " + TakeOpenSslError()};
  std::unique_ptr<TlsContext> context(new TlsContext(ctx));
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return Error{"cannot load trusted CA certificates" +
                 (ca_file.empty() ? std::string() : " from " + ca_file) + ": " +
                 TakeOpenSslError()};
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::string TakeOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return {};
  const char* reason = ERR_reason_error_string(code);
  if (reason != nullptr) return reason;
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

}  // namespace pharos
