#pragma once

// MonitorTable: the dashboard's list of monitors as one page of rows — filtered (text in the
// namespace, name or target; state; namespace; type), sorted by any column, and paged — computed
// on the server from a snapshot of every monitor's status, so that a browser only ever receives
// one page of rows however many monitors exist (10,000 or more).
// Sort orders: text columns alphabetically; `state` by severity (Down, Degraded, Pending,
// Invalid, Maintenance, Paused, Up) ascending; figures numerically, monitors without a figure
// last in either direction; ties by namespace/name.
// Thread-safety: a value type; Query parsing is a pure function.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "operator/control/monitor_status.h"

namespace pharos {

class MonitorTable {
 public:
  enum class Column {
    kState,
    kName,
    kNamespace,
    kType,
    kTarget,
    kSince,
    kUptime24h,
    kUptime7d,
    kUptime30d,
    kLatencyP50,
    kLatencyP95,
    kRegions,
  };
  static constexpr size_t kDefaultPageSize = 50;
  static constexpr size_t kMaxPageSize = 500;

  struct Query {
    std::string text;  // substring of namespace/name or target, case-insensitive
    std::optional<MonitorState> state;
    std::string namespace_name;
    std::optional<MonitorType> type;
    Column sort = Column::kState;
    bool descending = false;
    size_t page = 1;  // 1-based
    size_t page_size = kDefaultPageSize;
  };

  // From the dashboard's URL query (?q=&state=&namespace=&type=&sort=&dir=&page=&per_page=);
  // errors name the parameter.
  static Result<Query> ParseQuery(const std::map<std::string, std::string>& parameters);
  // The query string of `query` with `changes` applied ("" values removed); for links.
  static std::string QueryString(const Query& query,
                                 const std::map<std::string, std::string>& changes = {});

  static const char* ColumnName(Column column);  // "state" "name" "uptime24h" ...
  static std::optional<Column> ParseColumn(std::string_view name);

  struct Page {
    std::vector<MonitorStatus> rows;
    size_t matching = 0;  // rows that pass the filters
    size_t total = 0;     // every monitor
    size_t page = 1;      // clamped to the pages that exist
    size_t pages = 1;
    std::map<MonitorState, size_t> state_counts;  // of every monitor, for the summary chips
    std::vector<std::string> namespaces;          // every namespace, sorted
  };

  static Page Apply(std::vector<MonitorStatus> statuses, const Query& query);
};

}  // namespace pharos
