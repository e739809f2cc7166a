#pragma once

// DNS answer parsing: the records of one type in a raw DNS response, as the text users compare
// against: A/AAAA addresses, CNAME/NS targets without the trailing dot, MX as "10
// mail.example.com", TXT as the record's strings joined. Bounds-checked against hostile packets.
// Thread-safety: pure function.

#include <string>
#include <vector>

#include "common/monitor.h"
#include "common/result.h"

namespace pharos {

// The ns_t_* number of a record type (A = 1, AAAA = 28, ...).
int DnsTypeNumber(DnsRecordType type);

// Records of `type` in the answer section of `packet`; an error when the packet is malformed.
Result<std::vector<std::string>> ParseDnsAnswers(const std::vector<unsigned char>& packet,
                                                 DnsRecordType type);

}  // namespace pharos
