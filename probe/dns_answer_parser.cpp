#include "probe/dns_answer_parser.h"

#include <ares.h>
#include <arpa/inet.h>

#include <cstdint>
#include <limits>

#include "probe/error_text.h"

namespace pharos {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr int kClassIn = 1;

uint16_t ReadU16(const unsigned char* at) {
  return static_cast<uint16_t>((static_cast<unsigned>(at[0]) << 8) | at[1]);
}

// Decodes the (possibly compressed) name at `at`; sets *encoded_length to the bytes it takes
// at that position.
Result<std::string> ExpandName(const unsigned char* at, const std::vector<unsigned char>& packet,
                               long* encoded_length) {
  char* name = nullptr;
  const int status =
      ares_expand_name(at, packet.data(), static_cast<int>(packet.size()), &name, encoded_length);
  if (status != ARES_SUCCESS || name == nullptr) return Error{"bad name in DNS response"};
  std::string_view view(name);
  if (!view.empty() && view.back() == '.') view.remove_suffix(1);
  std::string text = view.empty() ? std::string(".") : std::string(view);
  ares_free_string(name);
  return text;
}

}  // namespace

int DnsTypeNumber(DnsRecordType type) {
  switch (type) {
    case DnsRecordType::kA:
      return 1;
    case DnsRecordType::kNS:
      return 2;
    case DnsRecordType::kCNAME:
      return 5;
    case DnsRecordType::kMX:
      return 15;
    case DnsRecordType::kTXT:
      return 16;
    case DnsRecordType::kAAAA:
      return 28;
  }
  return 1;
}

Result<std::vector<std::string>> ParseDnsAnswers(const std::vector<unsigned char>& packet,
                                                 DnsRecordType type) {
  if (packet.size() < kHeaderSize) return Error{"DNS response shorter than its header"};
  if (packet.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Error{"DNS response too large"};
  }
  const unsigned char* const begin = packet.data();
  const unsigned char* const end = begin + packet.size();
  const unsigned question_count = ReadU16(begin + 4);
  const unsigned answer_count = ReadU16(begin + 6);
  const unsigned char* at = begin + kHeaderSize;

  for (unsigned i = 0; i < question_count; ++i) {
    long length = 0;
    auto name = ExpandName(at, packet, &length);
    if (!name.ok()) return Error{name.error()};
    if (length <= 0 || end - at < length + 4) return Error{"truncated question in DNS response"};
    at += length + 4;
  }

  const int wanted = DnsTypeNumber(type);
  std::vector<std::string> records;
  for (unsigned i = 0; i < answer_count; ++i) {
    long length = 0;
    auto owner = ExpandName(at, packet, &length);
    if (!owner.ok()) return Error{owner.error()};
    if (length <= 0 || end - at < length + 10) return Error{"truncated record in DNS response"};
    at += length;
    const int record_type = ReadU16(at);
    const int record_class = ReadU16(at + 2);
    const size_t data_length = ReadU16(at + 8);
    at += 10;
    if (static_cast<size_t>(end - at) < data_length) {
      return Error{"truncated record data in DNS response"};
    }
    const unsigned char* data = at;
    at += data_length;
    if (record_type != wanted || record_class != kClassIn) continue;

    char address[INET6_ADDRSTRLEN] = {};
    switch (type) {
      case DnsRecordType::kA:
        if (data_length != 4) return Error{"A record of the wrong size"};
        inet_ntop(AF_INET, data, address, sizeof(address));
        records.emplace_back(address);
        break;
      case DnsRecordType::kAAAA:
        if (data_length != 16) return Error{"AAAA record of the wrong size"};
        inet_ntop(AF_INET6, data, address, sizeof(address));
        records.emplace_back(address);
        break;
      case DnsRecordType::kCNAME:
      case DnsRecordType::kNS: {
        long name_length = 0;
        auto target = ExpandName(data, packet, &name_length);
        if (!target.ok()) return Error{target.error()};
        records.push_back(std::move(target).value());
        break;
      }
      case DnsRecordType::kMX: {
        if (data_length < 3) return Error{"MX record too short"};
        long name_length = 0;
        auto exchange = ExpandName(data + 2, packet, &name_length);
        if (!exchange.ok()) return Error{exchange.error()};
        std::string record = std::to_string(ReadU16(data));
        record.push_back(' ');
        record.append(exchange.value());
        records.push_back(std::move(record));
        break;
      }
      case DnsRecordType::kTXT: {
        std::string text;
        size_t offset = 0;
        while (offset < data_length) {
          const size_t piece = data[offset];
          if (offset + 1 + piece > data_length) return Error{"TXT record string overruns"};
          text.append(reinterpret_cast<const char*>(data + offset + 1), piece);
          offset += 1 + piece;
        }
        records.push_back(SanitizeText(text, std::numeric_limits<size_t>::max()));
        break;
      }
    }
  }
  return records;
}

}  // namespace pharos
