#pragma once

// ResultTable: renders check results as an aligned plain-text table for terminals
// (NAME, TYPE, OUTCOME, STATUS, TOTAL, REASON).
// Thread-safety: a value type.

#include <string>
#include <vector>

#include "common/check_result.h"
#include "common/monitor.h"

namespace pharos {

class ResultTable {
 public:
  // `monitor` is the one `result` came from (used to explain a degraded outcome).
  void Add(const Monitor& monitor, const CheckResult& result);
  std::string Render() const;

  // Why a result is not up, in one line; empty for an up result.
  static std::string Reason(const Monitor& monitor, const CheckResult& result);
  // The STATUS column: the HTTP status, "2/3 replies" (icmp), "1/2 addresses" (every address
  // checked: how many passed), else "-".
  static std::string Status(const CheckResult& result);

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace pharos
