#include "operator/web/monitor_table.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <tuple>

#include "common/http_router.h"

namespace pharos {
namespace {

constexpr std::pair<MonitorTable::Column, const char*> kColumns[] = {
    {MonitorTable::Column::kState, "state"},         {MonitorTable::Column::kName, "name"},
    {MonitorTable::Column::kNamespace, "namespace"}, {MonitorTable::Column::kType, "type"},
    {MonitorTable::Column::kTarget, "target"},       {MonitorTable::Column::kSince, "since"},
    {MonitorTable::Column::kUptime24h, "uptime24h"}, {MonitorTable::Column::kUptime7d, "uptime7d"},
    {MonitorTable::Column::kUptime30d, "uptime30d"}, {MonitorTable::Column::kLatencyP50, "p50"},
    {MonitorTable::Column::kLatencyP95, "p95"},      {MonitorTable::Column::kRegions, "regions"},
};

int Severity(MonitorState state) {
  switch (state) {
    case MonitorState::kDown:
      return 0;
    case MonitorState::kDegraded:
      return 1;
    case MonitorState::kPending:
      return 2;
    case MonitorState::kInvalid:
      return 3;
    case MonitorState::kMaintenance:
      return 4;
    case MonitorState::kPaused:
      return 5;
    case MonitorState::kUp:
      return 6;
  }
  return 6;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<double> Figure(const MonitorStatus& status, MonitorTable::Column column) {
  switch (column) {
    case MonitorTable::Column::kUptime24h:
      return status.uptime_24h;
    case MonitorTable::Column::kUptime7d:
      return status.uptime_7d;
    case MonitorTable::Column::kUptime30d:
      return status.uptime_30d;
    case MonitorTable::Column::kLatencyP50:
      return status.latency_p50_us
                 ? std::optional<double>(static_cast<double>(*status.latency_p50_us))
                 : std::nullopt;
    case MonitorTable::Column::kLatencyP95:
      return status.latency_p95_us
                 ? std::optional<double>(static_cast<double>(*status.latency_p95_us))
                 : std::nullopt;
    default:
      return std::nullopt;
  }
}

std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

}  // namespace

const char* MonitorTable::ColumnName(Column column) {
  for (const auto& [value, name] : kColumns) {
    if (value == column) return name;
  }
  return "state";
}

std::optional<MonitorTable::Column> MonitorTable::ParseColumn(std::string_view name) {
  for (const auto& [value, text] : kColumns) {
    if (name == text) return value;
  }
  return std::nullopt;
}

Result<MonitorTable::Query> MonitorTable::ParseQuery(
    const std::map<std::string, std::string>& parameters) {
  Query query;
  auto get = [&](const char* key) -> const std::string* {
    const auto found = parameters.find(key);
    return found == parameters.end() || found->second.empty() ? nullptr : &found->second;
  };
  if (const std::string* text = get("q")) {
    if (text->size() > 200) return Error{"q: at most 200 characters", ErrorKind::kInvalidArgument};
    query.text = *text;
  }
  if (const std::string* state = get("state")) {
    query.state = ParseMonitorState(*state);
    if (!query.state) {
      return Error{
          "state: expected Up, Degraded, Down, Pending, Paused, Maintenance or Invalid, got \"" +
              *state + "\"",
          ErrorKind::kInvalidArgument};
    }
  }
  if (const std::string* ns = get("namespace")) query.namespace_name = *ns;
  if (const std::string* type = get("type")) {
    query.type = ParseMonitorType(*type);
    if (!query.type) {
      return Error{"type: expected http, tcp or dns, got \"" + *type + "\"",
                   ErrorKind::kInvalidArgument};
    }
  }
  if (const std::string* sort = get("sort")) {
    std::optional<Column> column = ParseColumn(*sort);
    if (!column) {
      return Error{"sort: unknown column \"" + *sort + "\"", ErrorKind::kInvalidArgument};
    }
    query.sort = *column;
  }
  if (const std::string* dir = get("dir")) {
    if (*dir != "asc" && *dir != "desc") {
      return Error{"dir: expected asc or desc, got \"" + *dir + "\"", ErrorKind::kInvalidArgument};
    }
    query.descending = *dir == "desc";
  }
  const std::pair<const char*, size_t*> numbers[] = {{"page", &query.page},
                                                     {"per_page", &query.page_size}};
  for (const auto& [key, out] : numbers) {
    const std::string* text = get(key);
    if (text == nullptr) continue;
    size_t value = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    const size_t max = out == &query.page_size ? kMaxPageSize : 1'000'000;
    if (error != std::errc() || end != text->data() + text->size() || value < 1 || value > max) {
      return Error{std::string(key) + ": expected a whole number from 1 to " + std::to_string(max) +
                       ", got \"" + *text + "\"",
                   ErrorKind::kInvalidArgument};
    }
    *out = value;
  }
  return query;
}

std::string MonitorTable::QueryString(const Query& query,
                                      const std::map<std::string, std::string>& changes) {
  std::map<std::string, std::string> values;
  if (!query.text.empty()) values["q"] = query.text;
  if (query.state) values["state"] = ToString(*query.state);
  if (!query.namespace_name.empty()) values["namespace"] = query.namespace_name;
  if (query.type) values["type"] = ToString(*query.type);
  if (query.sort != Column::kState) values["sort"] = ColumnName(query.sort);
  if (query.descending) values["dir"] = "desc";
  if (query.page != 1) values["page"] = std::to_string(query.page);
  if (query.page_size != kDefaultPageSize) values["per_page"] = std::to_string(query.page_size);
  for (const auto& [key, value] : changes) {
    if (value.empty()) {
      values.erase(key);
    } else {
      values[key] = value;
    }
  }
  std::string out;
  for (const auto& [key, value] : values) {
    out += (out.empty() ? "?" : "&") + key + "=" + Encode(value);
  }
  return out;
}

MonitorTable::Page MonitorTable::Apply(std::vector<MonitorStatus> statuses, const Query& query) {
  Page page;
  page.total = statuses.size();
  std::set<std::string> namespaces;
  for (const MonitorStatus& status : statuses) {
    ++page.state_counts[status.state];
    namespaces.insert(status.monitor->namespace_name);
  }
  page.namespaces.assign(namespaces.begin(), namespaces.end());

  const std::string needle = Lower(query.text);
  std::erase_if(statuses, [&](const MonitorStatus& status) {
    const Monitor& monitor = *status.monitor;
    if (query.state && status.state != *query.state) return true;
    if (!query.namespace_name.empty() && monitor.namespace_name != query.namespace_name) {
      return true;
    }
    if (query.type && monitor.type != *query.type) return true;
    if (!needle.empty() && Lower(monitor.Key()).find(needle) == std::string::npos &&
        Lower(monitor.Target()).find(needle) == std::string::npos) {
      return true;
    }
    return false;
  });
  page.matching = statuses.size();

  const Column column = query.sort;
  const bool descending = query.descending;
  auto by_key = [](const MonitorStatus& a, const MonitorStatus& b) {
    return std::tie(a.monitor->namespace_name, a.monitor->name) <
           std::tie(b.monitor->namespace_name, b.monitor->name);
  };
  auto before = [&](const MonitorStatus& a, const MonitorStatus& b) -> bool {
    // < 0: a first, > 0: b first, 0: tie (by key)
    int order = 0;
    switch (column) {
      case Column::kState:
        order = Severity(a.state) - Severity(b.state);
        break;
      case Column::kName:
        order = a.monitor->name.compare(b.monitor->name);
        break;
      case Column::kNamespace:
        order = a.monitor->namespace_name.compare(b.monitor->namespace_name);
        break;
      case Column::kType:
        order = std::string_view(ToString(a.monitor->type)).compare(ToString(b.monitor->type));
        break;
      case Column::kTarget:
        order = a.monitor->Target().compare(b.monitor->Target());
        break;
      case Column::kSince:
        order = a.last_transition_time < b.last_transition_time   ? -1
                : b.last_transition_time < a.last_transition_time ? 1
                                                                  : 0;
        break;
      case Column::kRegions:
        order = static_cast<int>(a.regions.size()) - static_cast<int>(b.regions.size());
        break;
      default: {
        const std::optional<double> x = Figure(a, column);
        const std::optional<double> y = Figure(b, column);
        if (!x || !y) {
          // Without a figure: last, whichever the direction.
          if (x.has_value() != y.has_value()) return x.has_value();
          return by_key(a, b);
        }
        order = *x < *y ? -1 : *y < *x ? 1 : 0;
      }
    }
    if (order != 0) return descending ? order > 0 : order < 0;
    return by_key(a, b);
  };

  page.pages = std::max<size_t>(1, (page.matching + query.page_size - 1) / query.page_size);
  page.page = std::min(query.page, page.pages);
  const size_t first = (page.page - 1) * query.page_size;
  const size_t last = std::min(page.matching, first + query.page_size);
  if (first < last) {
    // Only the rows up to this page's end need ordering.
    std::partial_sort(statuses.begin(), statuses.begin() + static_cast<std::ptrdiff_t>(last),
                      statuses.end(), before);
    page.rows.assign(std::make_move_iterator(statuses.begin() + static_cast<std::ptrdiff_t>(first)),
                     std::make_move_iterator(statuses.begin() + static_cast<std::ptrdiff_t>(last)));
  }
  return page;
}

}  // namespace pharos
