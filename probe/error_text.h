#pragma once

// Error text: turns errno values, curl codes, OpenSSL verification results and c-ares statuses
// into the plain words a result carries ("connection refused", "TLS: certificate has expired",
// "timeout after 10s in phase firstByte"), and decides whether a failure is the target's
// (outcome down) or the probe's own (outcome error: out of descriptors, out of memory, ...).
// Thread-safety: pure functions.

#include <curl/curl.h>

#include <chrono>
#include <string>
#include <string_view>

namespace pharos {

// A failed check transport, in words.
struct TransportError {
  std::string message;
  bool probe_fault = false;  // the probe could not carry the check out; says nothing of the target
};

// Phases of a check, as named in timeout messages and Timings.
inline constexpr const char* kPhaseDns = "dns";
inline constexpr const char* kPhaseConnect = "connect";
inline constexpr const char* kPhaseTls = "tls";
inline constexpr const char* kPhaseFirstByte = "firstByte";
inline constexpr const char* kPhaseTransfer = "transfer";

// errno → "connection refused", "connection reset by peer", ...
std::string DescribeErrno(int error);
// True for errors that mean the probe host ran out of something (descriptors, memory, ports).
bool IsProbeResourceError(int error);
TransportError DescribeSocketError(int error);

// "timeout after 10s in phase firstByte"
std::string DescribeTimeout(std::chrono::milliseconds timeout, std::string_view phase);

// An OpenSSL X509_V_* verification result for a certificate presented for `host`:
// "TLS: certificate has expired", "TLS: certificate is not valid for wrong.example (hostname
// mismatch)", "TLS: self-signed certificate".
std::string DescribeTlsVerifyResult(long verify_result, std::string_view host);

// Everything known about a failed curl transfer.
struct CurlFailure {
  CURLcode code = CURLE_OK;
  long os_errno = 0;       // CURLINFO_OS_ERRNO
  long verify_result = 0;  // CURLINFO_SSL_VERIFYRESULT
  int socket_errno = 0;    // errno of a socket() that could not be opened
  std::string detail;      // curl's error buffer
  std::string host;        // host the certificate was checked against
  int max_redirects = 0;
  std::chrono::milliseconds timeout{0};
  std::string phase;  // phase reached, for timeouts
};
TransportError DescribeCurlFailure(const CurlFailure& failure);

// A failed DNS query of a DNS check (c-ares status): "NXDOMAIN: example.invalid does not exist".
TransportError DescribeDnsQueryFailure(int ares_status, std::string_view name);
// A failed lookup of the host an HTTP or TCP check connects to: "DNS: no such host x.invalid".
TransportError DescribeHostLookupFailure(int ares_status, std::string_view host);

// Makes untrusted text (server bytes, library messages) safe to carry and print: valid UTF-8,
// control characters escaped as \xNN, at most `max_bytes` (then "…").
std::string SanitizeText(std::string_view text, size_t max_bytes = 256);

}  // namespace pharos
