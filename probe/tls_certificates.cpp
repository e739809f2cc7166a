#include "probe/tls_certificates.h"

#include <openssl/asn1.h>
#include <openssl/x509_vfy.h>

#include <ctime>

namespace pharos {
namespace {

int SinkIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void Merge(CertificateExpiry* into, const CertificateExpiry& from) {
  if (from.leaf) into->leaf = from.leaf;
  if (from.earliest && (!into->earliest || *from.earliest < *into->earliest)) {
    into->earliest = from.earliest;
  }
}

int RecordingVerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return preverify_ok;
  auto* sink =
      static_cast<CertificateExpiry*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), SinkIndex()));
  if (sink != nullptr) {
    Merge(sink, ChainExpiry(X509_STORE_CTX_get0_cert(store), X509_STORE_CTX_get0_untrusted(store)));
  }
  return preverify_ok;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> CertificateNotAfter(const X509* certificate) {
  if (certificate == nullptr) return std::nullopt;
  const ASN1_TIME* not_after = X509_get0_notAfter(certificate);
  std::tm broken_down{};
  if (not_after == nullptr || ASN1_TIME_to_tm(not_after, &broken_down) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&broken_down));
}

CertificateExpiry ChainExpiry(const X509* leaf, const STACK_OF(X509) * chain) {
  CertificateExpiry expiry;
  expiry.leaf = CertificateNotAfter(leaf);
  expiry.earliest = expiry.leaf;
  const int count = chain == nullptr ? 0 : sk_X509_num(chain);
  for (int i = 0; i < count; ++i) {
    const auto not_after = CertificateNotAfter(sk_X509_value(chain, i));
    if (not_after && (!expiry.earliest || *not_after < *expiry.earliest)) {
      expiry.earliest = not_after;
    }
  }
  return expiry;
}

CertificateExpiry PeerChainExpiry(const SSL* ssl) {
  // On the client side the peer chain includes the leaf.
  X509* leaf = SSL_get0_peer_certificate(ssl);
  return ChainExpiry(leaf, SSL_get_peer_cert_chain(ssl));
}

void CaptureChainExpiry(SSL_CTX* ctx, CertificateExpiry* sink) {
  SSL_CTX_set_ex_data(ctx, SinkIndex(), sink);
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), &RecordingVerifyCallback);
}

}  // namespace pharos
