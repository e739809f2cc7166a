// Fuzz target: the gRPC health check's response reader — the body a gRPC server (any server a
// grpc Monitor names) answers to grpc.health.v1.Health/Check, and its grpc-message trailer.
// Input: one selector byte (even: the framed HealthCheckResponse; odd: a grpc-message to decode),
// then the bytes. Invariants: a request framed for any service name reads back as a frame whose
// message is that service (length prefix consistent); a decoded grpc-message is never longer than
// its encoding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "probe/grpc_health_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    pharos::Result<int> status = pharos::GrpcHealthMessage::ServingStatus(input);
    if (status) {
      (void)pharos::GrpcHealthMessage::ServingStatusName(*status);
    }
    (void)pharos::GrpcHealthMessage::StatusCodeName(static_cast<int>(data[0]) - 128);
    const std::string framed = pharos::GrpcHealthMessage::FramedRequest(input);
    const size_t length = static_cast<size_t>(static_cast<uint8_t>(framed[1])) << 24 |
                          static_cast<size_t>(static_cast<uint8_t>(framed[2])) << 16 |
                          static_cast<size_t>(static_cast<uint8_t>(framed[3])) << 8 |
                          static_cast<size_t>(static_cast<uint8_t>(framed[4]));
    if (framed.size() != 5 + length || framed.find(input) == std::string::npos) {
      std::abort();
    }
  } else {
    const std::string decoded = pharos::GrpcHealthMessage::DecodeStatusMessage(input);
    if (decoded.size() > input.size()) {
      std::abort();
    }
  }
  return 0;
}
