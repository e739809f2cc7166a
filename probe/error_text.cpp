#include "probe/error_text.h"

#include <ares.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>

#include "common/duration_text.h"

namespace pharos {
namespace {

std::string Lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  uint32_t min_code = 0;
  uint32_t code = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, code = lead & 0x1f, min_code = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, code = lead & 0x0f, min_code = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, code = lead & 0x07, min_code = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  if (code < min_code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return length;
}

}  // namespace

std::string DescribeErrno(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "connection refused";
    case ECONNRESET:
      return "connection reset by peer";
    case ETIMEDOUT:
      return "connection timed out";
    case EHOSTUNREACH:
      return "no route to host";
    case ENETUNREACH:
      return "network is unreachable";
    case EHOSTDOWN:
      return "host is down";
    case EPIPE:
      return "connection closed by peer (broken pipe)";
    case ECONNABORTED:
      return "connection aborted";
    case EMFILE:
    case ENFILE:
      return "the probe ran out of file descriptors";
    case ENOBUFS:
    case ENOMEM:
      return "the probe ran out of memory for sockets";
    case EADDRNOTAVAIL:
      return "no local address or port available for the connection";
    case EACCES:
    case EPERM:
      return "connection not permitted by the probe host (firewall or policy)";
    case EAFNOSUPPORT:
      return "address family not supported on the probe host";
    default:
      return Lowercase(std::strerror(error));
  }
}

bool IsProbeResourceError(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM ||
         error == EADDRNOTAVAIL || error == EAFNOSUPPORT;
}

TransportError DescribeSocketError(int error) {
  return TransportError{DescribeErrno(error), IsProbeResourceError(error)};
}

std::string DescribeTimeout(std::chrono::milliseconds timeout, std::string_view phase) {
  return "timeout after " + FormatMicros(timeout) + " in phase " + std::string(phase);
}

std::string DescribeTlsVerifyResult(long verify_result, std::string_view host) {
  switch (verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return "TLS: certificate is not valid for " + std::string(host) + " (hostname mismatch)";
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "TLS: certificate is not valid for " + std::string(host) + " (IP address mismatch)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "TLS: certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "TLS: certificate is not yet valid";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "TLS: self-signed certificate";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "TLS: self-signed certificate in the chain (untrusted root)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "TLS: certificate issuer is unknown (incomplete chain or untrusted CA)";
    default:
      return "TLS: " + std::string(X509_verify_cert_error_string(verify_result));
  }
}

TransportError DescribeCurlFailure(const CurlFailure& failure) {
  const int os_errno = static_cast<int>(failure.os_errno);
  const std::string detail = SanitizeText(failure.detail);
  switch (failure.code) {
    case CURLE_OK:
      return {};
    case CURLE_OPERATION_TIMEDOUT:
      return {DescribeTimeout(failure.timeout, failure.phase.empty() ? "unknown" : failure.phase)};
    case CURLE_COULDNT_RESOLVE_HOST:
      return {"DNS: no such host " + failure.host};
    case CURLE_COULDNT_CONNECT:
      if (failure.socket_errno != 0) {
        return {"cannot open a socket: " + DescribeErrno(failure.socket_errno),
                IsProbeResourceError(failure.socket_errno)};
      }
      if (os_errno != 0) return DescribeSocketError(os_errno);
      return {"cannot connect" + (detail.empty() ? std::string() : ": " + detail)};
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      if (os_errno != 0) return DescribeSocketError(os_errno);
      return {"connection failed while " +
              std::string(failure.code == CURLE_SEND_ERROR ? "sending" : "receiving") +
              (detail.empty() ? std::string() : ": " + detail)};
    case CURLE_GOT_NOTHING:
      return {"empty reply: the server closed the connection without answering"};
    case CURLE_PARTIAL_FILE:
      return {"connection closed before the whole response body arrived"};
    case CURLE_TOO_MANY_REDIRECTS:
      return {"too many redirects (" + std::to_string(failure.max_redirects) + ")"};
    case CURLE_PEER_FAILED_VERIFICATION:
      // curl checks the host name itself after OpenSSL accepted the chain, and leaves the
      // verification result unset (OK or "unspecified") when only that check failed.
      if (failure.detail.find("target host name") != std::string::npos ||
          failure.verify_result == X509_V_OK) {
        return {DescribeTlsVerifyResult(X509_V_ERR_HOSTNAME_MISMATCH, failure.host)};
      }
      if (failure.verify_result == X509_V_ERR_UNSPECIFIED) {
        return {"TLS: certificate verification failed" +
                (detail.empty() ? std::string() : ": " + detail)};
      }
      return {DescribeTlsVerifyResult(failure.verify_result, failure.host)};
    case CURLE_SSL_CONNECT_ERROR:
      if (os_errno == ECONNRESET) return {"TLS: connection reset by peer during the handshake"};
      return {"TLS: handshake failed" + (detail.empty() ? std::string() : ": " + detail)};
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CIPHER:
      return {"TLS setup on the probe failed" + (detail.empty() ? std::string() : ": " + detail),
              true};
    case CURLE_WEIRD_SERVER_REPLY:
      return {"invalid HTTP response" + (detail.empty() ? std::string() : ": " + detail)};
    case CURLE_UNSUPPORTED_PROTOCOL:
      if (failure.detail.find("HTTP/0.9") != std::string::npos) {
        return {"invalid HTTP response: not HTTP/1.x or HTTP/2 (binary or HTTP/0.9 reply)"};
      }
      return {"unsupported protocol" + (detail.empty() ? std::string() : ": " + detail)};
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return {"HTTP/2 protocol error" + (detail.empty() ? std::string() : ": " + detail)};
    case CURLE_URL_MALFORMAT:
      return {"invalid URL" + (detail.empty() ? std::string() : ": " + detail), true};
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_ABORTED_BY_CALLBACK:
      return {
          "the probe could not run the request: " + std::string(curl_easy_strerror(failure.code)) +
              (detail.empty() ? std::string() : " (" + detail + ")"),
          true};
    default:
      return {Lowercase(curl_easy_strerror(failure.code)) +
              (detail.empty() ? std::string() : ": " + detail)};
  }
}

TransportError DescribeDnsQueryFailure(int ares_status, std::string_view name) {
  const std::string subject(name);
  switch (ares_status) {
    case ARES_ENOTFOUND:
      return {"NXDOMAIN: " + subject + " does not exist"};
    case ARES_ESERVFAIL:
      return {"SERVFAIL: the DNS server could not answer for " + subject};
    case ARES_EREFUSED:
      return {"REFUSED: the DNS server refused to answer for " + subject};
    case ARES_ENOTIMP:
      return {"NOTIMP: the DNS server does not support this query"};
    case ARES_EFORMERR:
      return {"FORMERR: the DNS server rejected the query as malformed"};
    case ARES_EBADRESP:
      return {"DNS: malformed response from the server"};
    case ARES_ECONNREFUSED:
      return {"DNS: connection refused by the server"};
    case ARES_ETIMEOUT:
      return {"DNS: no answer from the server (timed out)"};
    case ARES_EBADNAME:
      return {"DNS: invalid name " + subject, true};
    case ARES_ENOMEM:
      return {"DNS: the probe ran out of memory", true};
    default:
      return {"DNS: " + Lowercase(ares_strerror(ares_status)), ares_status == ARES_ENOTINITIALIZED};
  }
}

TransportError DescribeHostLookupFailure(int ares_status, std::string_view host) {
  const std::string subject(host);
  switch (ares_status) {
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
      return {"DNS: no such host " + subject};
    case ARES_ENODATA:
      return {"DNS: host " + subject + " has no address"};
    case ARES_ESERVFAIL:
      return {"DNS: server failure looking up " + subject};
    case ARES_EREFUSED:
      return {"DNS: server refused to look up " + subject};
    case ARES_ECONNREFUSED:
      return {"DNS: connection refused by the DNS server looking up " + subject};
    case ARES_ETIMEOUT:
      return {"DNS: no answer looking up " + subject + " (timed out)"};
    case ARES_ENOMEM:
      return {"DNS: the probe ran out of memory", true};
    default:
      return {"DNS: cannot look up " + subject + ": " + Lowercase(ares_strerror(ares_status)),
              ares_status == ARES_ENOTINITIALIZED || ares_status == ARES_EFILE};
  }
}

std::string SanitizeText(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < text.size();) {
    if (out.size() >= max_bytes) {
      out += "…";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 1 && c >= 0x20 && c != 0x7f) {
      out.push_back(static_cast<char>(c));
    } else if (length == 1 && (c == '\t')) {
      out += "\\t";
    } else if (length == 1 && c == '\n') {
      out += "\\n";
    } else if (length == 1 && c == '\r') {
      out += "\\r";
    } else if (length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
    ++i;
  }
  return out;
}

}  // namespace pharos
