// Fuzz target: the DNS answer parser — a raw response packet from whatever server a DNS monitor
// asks. Input: one byte choosing the record type asked for, then the packet.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "probe/dns_answer_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  constexpr pharos::DnsRecordType kTypes[] = {
      pharos::DnsRecordType::kA,  pharos::DnsRecordType::kAAAA, pharos::DnsRecordType::kCNAME,
      pharos::DnsRecordType::kMX, pharos::DnsRecordType::kTXT,  pharos::DnsRecordType::kNS};
  const pharos::DnsRecordType type = kTypes[data[0] % 6];
  const std::vector<unsigned char> packet(data + 1, data + size);
  (void)pharos::ParseDnsAnswers(packet, type);
  return 0;
}
