#include "probe/grpc_health_message.h"

#include <array>

namespace pharos {
namespace {

constexpr uint8_t kServiceTag = 0x0A;  // field 1, length-delimited
constexpr uint8_t kStatusTag = 0x08;   // field 1, varint
constexpr size_t kFrameHeader = 5;

void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads a varint at `*position`; false when it runs past the end or beyond 64 bits.
bool ReadVarint(std::string_view data, size_t* position, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*position >= data.size()) return false;
    const auto byte = static_cast<uint8_t>(data[(*position)++]);
    *value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string GrpcHealthMessage::FramedRequest(std::string_view service) {
  std::string message;
  if (!service.empty()) {
    message.push_back(static_cast<char>(kServiceTag));
    AppendVarint(message, service.size());
    message.append(service);
  }
  std::string frame(kFrameHeader, '\0');
  const auto length = static_cast<uint32_t>(message.size());
  frame[1] = static_cast<char>(length >> 24);
  frame[2] = static_cast<char>(length >> 16);
  frame[3] = static_cast<char>(length >> 8);
  frame[4] = static_cast<char>(length);
  return frame + message;
}

Result<int> GrpcHealthMessage::ServingStatus(std::string_view body) {
  if (body.size() < kFrameHeader) {
    return Error{body.empty() ? "no response message" : "truncated gRPC frame header"};
  }
  if (body[0] != 0) return Error{"the response message is compressed (Pharos asks for identity)"};
  const uint32_t length = static_cast<uint32_t>(static_cast<uint8_t>(body[1])) << 24 |
                          static_cast<uint32_t>(static_cast<uint8_t>(body[2])) << 16 |
                          static_cast<uint32_t>(static_cast<uint8_t>(body[3])) << 8 |
                          static_cast<uint32_t>(static_cast<uint8_t>(body[4]));
  if (body.size() - kFrameHeader < length) return Error{"truncated gRPC frame"};
  const std::string_view message = body.substr(kFrameHeader, length);
  int status = 0;  // proto3: an absent field is its zero value, UNKNOWN
  size_t position = 0;
  while (position < message.size()) {
    uint64_t key = 0;
    if (!ReadVarint(message, &position, &key)) return Error{"malformed HealthCheckResponse"};
    const uint64_t wire_type = key & 0x7;
    uint64_t value = 0;
    switch (wire_type) {
      case 0:  // varint
        if (!ReadVarint(message, &position, &value)) {
          return Error{"malformed HealthCheckResponse"};
        }
        if (key == kStatusTag) status = static_cast<int>(static_cast<int32_t>(value));
        break;
      case 1:  // 64-bit
        if (message.size() - position < 8) return Error{"malformed HealthCheckResponse"};
        position += 8;
        break;
      case 2:  // length-delimited
        if (!ReadVarint(message, &position, &value) || message.size() - position < value) {
          return Error{"malformed HealthCheckResponse"};
        }
        position += static_cast<size_t>(value);
        break;
      case 5:  // 32-bit
        if (message.size() - position < 4) return Error{"malformed HealthCheckResponse"};
        position += 4;
        break;
      default:
        return Error{"malformed HealthCheckResponse (wire type " + std::to_string(wire_type) + ")"};
    }
  }
  return status;
}

std::string GrpcHealthMessage::ServingStatusName(int status) {
  static constexpr std::array<const char*, 4> kNames = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                                        "SERVICE_UNKNOWN"};
  if (status >= 0 && status < static_cast<int>(kNames.size())) return kNames[status];
  return "status " + std::to_string(status);
}

std::string GrpcHealthMessage::StatusCodeName(int code) {
  static constexpr std::array<const char*, 17> kNames = {"OK",
                                                         "CANCELLED",
                                                         "UNKNOWN",
                                                         "INVALID_ARGUMENT",
                                                         "DEADLINE_EXCEEDED",
                                                         "NOT_FOUND",
                                                         "ALREADY_EXISTS",
                                                         "PERMISSION_DENIED",
                                                         "RESOURCE_EXHAUSTED",
                                                         "FAILED_PRECONDITION",
                                                         "ABORTED",
                                                         "OUT_OF_RANGE",
                                                         "UNIMPLEMENTED",
                                                         "INTERNAL",
                                                         "UNAVAILABLE",
                                                         "DATA_LOSS",
                                                         "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(kNames.size())) return kNames[code];
  return "code " + std::to_string(code);
}

std::string GrpcHealthMessage::DecodeStatusMessage(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace pharos
