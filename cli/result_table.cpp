#include "cli/result_table.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace pharos {
namespace {

std::string Milliseconds(int64_t micros) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(micros) / 1000.0);
  return text;
}

}  // namespace

std::string ResultTable::Reason(const Monitor& monitor, const CheckResult& result) {
  if (!result.error.empty()) {
    return result.error;
  }
  if (result.failed_assertion) {
    return result.failed_assertion->message;
  }
  if (result.outcome == Outcome::kDegraded && monitor.degraded_after) {
    return "total " + Milliseconds(result.timings.total_us) + " is slower than degradedAfter " +
           std::to_string(monitor.degraded_after->count()) + " ms";
  }
  return "";
}

std::string ResultTable::Status(const CheckResult& result) {
  if (!result.addresses.empty()) {
    // Every address was checked: how many of them passed.
    const auto up = std::count_if(
        result.addresses.begin(), result.addresses.end(), [](const AddressResult& address) {
          return address.outcome == Outcome::kUp || address.outcome == Outcome::kDegraded;
        });
    return std::to_string(up) + "/" + std::to_string(result.addresses.size()) + " addresses";
  }
  if (result.icmp) {
    return std::to_string(result.icmp->received) + "/" + std::to_string(result.icmp->sent) +
           " replies";
  }
  return result.status_code == 0 ? "-" : std::to_string(result.status_code);
}

void ResultTable::Add(const Monitor& monitor, const CheckResult& result) {
  rows_.push_back({result.monitor_namespace + "/" + result.monitor_name, ToString(result.type),
                   ToString(result.outcome), Status(result), Milliseconds(result.timings.total_us),
                   Reason(monitor, result)});
}

std::string ResultTable::Render() const {
  std::vector<std::vector<std::string>> all = {
      {"NAME", "TYPE", "OUTCOME", "STATUS", "TOTAL", "REASON"}};
  all.insert(all.end(), rows_.begin(), rows_.end());
  std::vector<size_t> widths(all.front().size(), 0);
  for (const auto& row : all) {
    for (size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::ostringstream out;
  for (const auto& row : all) {
    std::string line;
    for (size_t column = 0; column < row.size(); ++column) {
      line += row[column];
      if (column + 1 < row.size()) {
        line += std::string(widths[column] - row[column].size() + 2, ' ');
      }
    }
    out << line << "\n";
  }
  return out.str();
}

}  // namespace pharos
