#pragma once

// GrpcHealthMessage: the two messages of grpc.health.v1.Health/Check, encoded and decoded by hand
// (docs/probe.md, "gRPC health"): they are one field each, so no protobuf library is needed.
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  UNKNOWN 0, SERVING 1, NOT_SERVING 2,
//                                                     SERVICE_UNKNOWN 3
// On the wire each message travels in a gRPC length-prefixed frame: one byte compression flag
// (0), four bytes big-endian length, the protobuf bytes. A protobuf string field is its tag
// (field 1, wire type 2: 0x0A), a varint length and the bytes; an enum field is its tag
// (0x08) and a varint. Decoding skips fields it does not know, as protobuf does.
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pharos {

struct GrpcHealthMessage {
  // The framed HealthCheckRequest for `service` ("" = the server as a whole).
  static std::string FramedRequest(std::string_view service);
  // The serving status of the first framed HealthCheckResponse in `body`. Errors name what is
  // wrong (truncated frame, compressed message, malformed protobuf).
  static Result<int> ServingStatus(std::string_view body);
  // "SERVING", "NOT_SERVING", ... ; "status N" for values the protocol does not define.
  static std::string ServingStatusName(int status);
  // The name of a gRPC status code: 5 → "NOT_FOUND".
  static std::string StatusCodeName(int code);
  // grpc-message is percent-encoded (%XX) UTF-8.
  static std::string DecodeStatusMessage(std::string_view text);
};

}  // namespace pharos
