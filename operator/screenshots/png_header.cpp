#include "operator/screenshots/png_header.h"

#include <string>

namespace pharos {
namespace {

constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
constexpr uint32_t kMaxSide = 65535;

uint32_t BigEndian32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

Error NotPng(const std::string& why) {
  return Error{"not a PNG (" + why + ")", ErrorKind::kInvalidArgument};
}

}  // namespace

Result<PngHeader> ReadPngHeader(std::string_view bytes) {
  // signature, IHDR length and type, 13 bytes of IHDR data, its CRC
  constexpr size_t kHeaderBytes = 8 + 8 + 13 + 4;
  if (bytes.size() < kSignature.size() || bytes.substr(0, kSignature.size()) != kSignature) {
    return NotPng("no PNG signature");
  }
  if (bytes.size() < kHeaderBytes) {
    return NotPng(std::to_string(bytes.size()) + " bytes, too short for a PNG header");
  }
  if (BigEndian32(bytes, 8) != 13 || bytes.substr(12, 4) != "IHDR") {
    return NotPng("the first chunk is not a 13-byte IHDR");
  }
  PngHeader header{BigEndian32(bytes, 16), BigEndian32(bytes, 20)};
  if (header.width == 0 || header.height == 0 || header.width > kMaxSide ||
      header.height > kMaxSide) {
    return NotPng("an image of " + std::to_string(header.width) + "x" +
                  std::to_string(header.height) + " pixels; expected 1 to 65535 each way");
  }
  return header;
}

}  // namespace pharos
