#include "common/address_verdict.h"

#include <algorithm>

namespace pharos {
namespace {

constexpr int kNamedAddresses = 3;

std::string Describe(const AddressResult& address) {
  return address.message.empty() ? address.Label() + ": " + ToString(address.outcome)
                                 : address.Label() + ": " + address.message;
}

// "a: x; b: y; c: z and 2 more" for the addresses of `outcome`.
std::string Name(const std::vector<AddressResult>& addresses, Outcome outcome) {
  std::string text;
  int named = 0;
  int more = 0;
  for (const AddressResult& address : addresses) {
    if (address.outcome != outcome) {
      continue;
    }
    if (named == kNamedAddresses) {
      ++more;
      continue;
    }
    if (!text.empty()) {
      text += "; ";
    }
    text += Describe(address);
    ++named;
  }
  if (more > 0) {
    text += " and " + std::to_string(more) + " more";
  }
  return text;
}

}  // namespace

AddressVerdict AddressVerdict::Of(const std::vector<AddressResult>& addresses,
                                  std::optional<int> quorum) {
  AddressVerdict verdict;
  int degraded = 0;
  for (const AddressResult& address : addresses) {
    switch (address.outcome) {
      case Outcome::kUp:
        ++verdict.checked;
        break;
      case Outcome::kDegraded:
        ++verdict.checked;
        ++degraded;
        break;
      case Outcome::kDown:
        ++verdict.checked;
        ++verdict.failing;
        break;
      case Outcome::kError:
        break;
    }
  }
  const int total = static_cast<int>(addresses.size());
  if (verdict.checked == 0) {
    verdict.outcome = Outcome::kError;
    verdict.reason = total == 0
                         ? "no address to check"
                         : "no address could be checked: " + Name(addresses, Outcome::kError);
    return verdict;
  }
  verdict.required = quorum ? std::clamp(*quorum, 1, verdict.checked) : verdict.checked / 2 + 1;
  const std::string count = " of " + std::to_string(total) + " addresses";
  if (verdict.failing >= verdict.required) {
    verdict.outcome = Outcome::kDown;
    verdict.reason = Name(addresses, Outcome::kDown) + " (" + std::to_string(verdict.failing) +
                     count + " failing)";
  } else if (verdict.failing + degraded >= verdict.required) {
    verdict.outcome = Outcome::kDegraded;
    std::string named = Name(addresses, Outcome::kDown);
    const std::string slow = Name(addresses, Outcome::kDegraded);
    named += (named.empty() ? "" : "; ") + slow;
    verdict.reason =
        named + " (" + std::to_string(verdict.failing + degraded) + count + " failing or slow)";
  } else {
    verdict.outcome = Outcome::kUp;
  }
  return verdict;
}

}  // namespace pharos
