#pragma once

// Certificate expiry of a TLS peer: the leaf's notAfter and the earliest notAfter of the chain
// the peer sent. Read from OpenSSL objects, for curl transfers (through a verify callback on
// curl's SSL_CTX, so it is recorded even when verification fails or is switched off) and for
// TCP+TLS checks (from the finished session).
// Thread-safety: free functions; CertificateExpiry is a value type.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <optional>

namespace pharos {

struct CertificateExpiry {
  std::optional<std::chrono::system_clock::time_point> leaf;
  std::optional<std::chrono::system_clock::time_point> earliest;
};

std::optional<std::chrono::system_clock::time_point> CertificateNotAfter(const X509* certificate);

// Expiry of `leaf` and of every certificate in `chain` (either may be null).
CertificateExpiry ChainExpiry(const X509* leaf, const STACK_OF(X509) * chain);

// Expiry of the certificates the peer of a completed handshake sent.
CertificateExpiry PeerChainExpiry(const SSL* ssl);

// Makes every handshake that uses `ctx` record the peer's chain into `*sink` during
// verification, without changing the verification result. `sink` must outlive the handshake.
void CaptureChainExpiry(SSL_CTX* ctx, CertificateExpiry* sink);

}  // namespace pharos
