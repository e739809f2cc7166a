#pragma once

// Observation: what one attempt of a check saw of its target, before assertions are applied.
// Produced by the HTTP/TCP/DNS attempts, judged by AssertionEvaluator.
// Thread-safety: a value type.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/check_result.h"

namespace pharos {

struct Observation {
  // Transport failure in plain words; empty when the target was reached and answered.
  std::string error;
  // The probe itself could not carry the check out (out of descriptors, init failure): the
  // outcome is `error`, never `down`.
  bool probe_fault = false;

  int status_code = 0;                                       // HTTP: final response
  std::vector<std::pair<std::string, std::string>> headers;  // HTTP: final response, as sent
  std::string body;                                          // HTTP: the first max_body_bytes
  bool body_truncated = false;

  Timings timings;
  bool tls_established = false;  // a TLS handshake completed (HTTPS or TCP+TLS)
  std::optional<std::chrono::system_clock::time_point> cert_expiry;           // leaf notAfter
  std::optional<std::chrono::system_clock::time_point> cert_earliest_expiry;  // whole chain

  std::vector<std::string> dns_records;  // DNS: answers of the asked type, as text
  std::optional<IcmpStats> icmp;         // ICMP: echo requests sent and answered
  // gRPC: the serving status the health service answered ("SERVING", "NOT_SERVING", ...);
  // empty when no health answer was read.
  std::string grpc_serving;
  // When every address was checked: each one's result, judged on its own (the fields above
  // are those of the address that stands for them: the first failing, else the slowest).
  std::vector<AddressResult> addresses;
};

}  // namespace pharos
