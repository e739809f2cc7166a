#include "operator/control/monitor_series_table.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>

#include "common/logging.h"

namespace pharos {
namespace {

// Label values, indexed like Outcome and like the phases of Timings.
constexpr std::string_view kOutcomeNames[] = {"up", "degraded", "down", "error"};
constexpr std::string_view kPhaseNames[] = {"dns",       "connect",  "tls",
                                            "firstByte", "transfer", "total"};
// Outcomes and phases in the byte order of their names: the order the families wrote them in.
constexpr size_t kOutcomesByName[] = {1, 2, 3, 0};      // degraded down error up
constexpr size_t kPhasesByName[] = {1, 0, 3, 2, 5, 4};  // connect dns firstByte tls total transfer
constexpr size_t kTotalPhase = 5;

// Monitors written per hold of the table's lock during a scrape, and so between two chances to
// hand a streamed piece to the client: 32 one-region monitors with every phase are ≈ 300 KB of
// text, about one piece (MetricsRegistry::kStreamPieceBytes).
constexpr size_t kRecordsPerBatch = 32;

// glibc malloc's chunk for a request: 8 bytes of header, 16-byte granularity, 32 at least.
size_t MallocChunk(size_t bytes) { return std::max<size_t>(32, (bytes + 8 + 15) / 16 * 16); }

}  // namespace

MonitorSeriesTable::Key::Key(std::string_view namespace_name, std::string_view name)
    : text_(std::make_unique_for_overwrite<char[]>(namespace_name.size() + name.size())),
      size_(static_cast<uint32_t>(namespace_name.size() + name.size())),
      name_offset_(static_cast<uint32_t>(namespace_name.size())) {
  std::copy(name.begin(), name.end(),
            std::copy(namespace_name.begin(), namespace_name.end(), text_.get()));
}

MonitorSeriesTable::Key::Key(const Key& other) : Key(other.namespace_name(), other.name()) {}

MonitorSeriesTable::Key& MonitorSeriesTable::Key::operator=(const Key& other) {
  if (this != &other) {
    *this = Key(other);
  }
  return *this;
}

MonitorSeriesTable::MonitorSeriesTable(MetricsRegistry& registry, Options options)
    : registry_(registry),
      max_series_(options.max_series),
      duration_phases_(options.duration_phases) {}

MonitorSeriesTable::RegionSeries* MonitorSeriesTable::FindRegion(MonitorRecord& record,
                                                                 uint16_t region) {
  RegionSeries* regions = record.regions();
  for (size_t i = 0; i < record.region_count; ++i) {
    if (regions[i].region == region) {
      return &regions[i];
    }
  }
  return nullptr;
}

const MonitorSeriesTable::PhaseHistogram& MonitorSeriesTable::HistogramOf(
    const RegionSeries& series, size_t phase) {
  const auto below = static_cast<uint8_t>(series.phases & ((1u << phase) - 1));
  return series.histograms[static_cast<size_t>(std::popcount(below))];
}

MonitorSeriesTable::RegionSeries& MonitorSeriesTable::AddRegion(MonitorRecord& record,
                                                                uint16_t region) {
  if (record.region_count == 0) {
    record.only = RegionSeries{};
    record.only.region = region;
    record.region_count = 1;
    return record.only;
  }
  auto regions = std::make_unique<RegionSeries[]>(record.region_count + 1u);
  std::move(record.regions(), record.regions() + record.region_count, regions.get());
  RegionSeries& added = regions[record.region_count];
  added.region = region;
  record.only = RegionSeries{};
  record.spilled = std::move(regions);
  ++record.region_count;
  return added;
}

MonitorSeriesTable::PhaseHistogram& MonitorSeriesTable::AddPhase(RegionSeries& series,
                                                                 size_t phase) {
  const auto bit = static_cast<uint8_t>(1u << phase);
  const size_t position =
      static_cast<size_t>(std::popcount(static_cast<uint8_t>(series.phases & (bit - 1u))));
  if ((series.phases & bit) == 0) {
    const size_t count = static_cast<size_t>(std::popcount(series.phases));
    auto histograms = std::make_unique<PhaseHistogram[]>(count + 1);
    std::copy(series.histograms.get(), series.histograms.get() + position, histograms.get());
    std::copy(series.histograms.get() + position, series.histograms.get() + count,
              histograms.get() + position + 1);
    series.histograms = std::move(histograms);
    series.phases = static_cast<uint8_t>(series.phases | bit);
  }
  return series.histograms[position];
}

size_t MonitorSeriesTable::OutcomeSeries(const RegionSeries& series) {
  return static_cast<size_t>(std::count_if(series.outcomes.begin(), series.outcomes.end(),
                                           [](uint64_t count) { return count > 0; }));
}

bool MonitorSeriesTable::InternRegion(std::string_view region, uint16_t* index) {
  const auto it = region_indexes_.find(region);
  if (it != region_indexes_.end()) {
    *index = it->second;
    return true;
  }
  if (region_names_.size() > std::numeric_limits<uint16_t>::max()) {
    return false;
  }
  *index = static_cast<uint16_t>(region_names_.size());
  region_names_.emplace_back(region);
  region_indexes_.emplace(std::string(region), *index);
  return true;
}

void MonitorSeriesTable::Refuse(std::string_view metric, bool* warned, size_t* refused) {
  ++*refused;
  if (*warned) {
    return;
  }
  *warned = true;
  LogWarn(
      "metric reached its series limit; new label sets are dropped and counted in "
      "pharos_metrics_series_overflow_total. Raise the limit if the number of monitors "
      "and regions really needs more series",
      {{"metric", metric}, {"max_series", max_series_}});
}

void MonitorSeriesTable::Record(std::string_view namespace_name, std::string_view name,
                                std::string_view region, Outcome outcome, const Timings& timings) {
  const int64_t phase_micros[kPhaseCount] = {timings.dns_us,      timings.connect_us,
                                             timings.tls_us,      timings.first_byte_us,
                                             timings.transfer_us, timings.total_us};
  const size_t first_phase = duration_phases_ == DurationPhases::kAll ? 0 : kTotalPhase;
  const auto outcome_index = static_cast<size_t>(outcome);
  size_t refused_results = 0;
  size_t refused_durations = 0;
  {
    MutexLock lock(mutex_);
    const auto record = records_.find(KeyView{namespace_name, name});
    RegionSeries* series = nullptr;
    if (const auto known = region_indexes_.find(region);
        record != records_.end() && known != region_indexes_.end()) {
      series = FindRegion(record->second, known->second);
    }

    // Decide what may be stored before creating anything, so that a refused label set leaves
    // no trace (no empty record, no interned region).
    bool count_outcome = true;
    if (series == nullptr || series->outcomes[outcome_index] == 0) {
      if (result_series_ >= max_series_) {
        Refuse(kResultsMetric, &warned_results_, &refused_results);
        count_outcome = false;
      }
    }
    uint8_t observe = 0;  // bit i: observe phase i
    if (outcome != Outcome::kError) {
      size_t new_phases = 0;
      for (size_t phase = first_phase; phase < kPhaseCount; ++phase) {
        if (phase_micros[phase] <= 0) {
          continue;
        }
        const bool known_phase = series != nullptr && ((series->phases >> phase) & 1u) != 0;
        if (!known_phase) {
          if (duration_series_ + new_phases >= max_series_) {
            Refuse(kDurationsMetric, &warned_durations_, &refused_durations);
            continue;
          }
          ++new_phases;
        }
        observe = static_cast<uint8_t>(observe | (1u << phase));
      }
    }

    if (series == nullptr && (count_outcome || observe != 0)) {
      uint16_t region_index = 0;
      const bool region_full = record != records_.end() &&
                               record->second.region_count == std::numeric_limits<uint8_t>::max();
      if (region_full || !InternRegion(region, &region_index)) {
        // 255 regions of one monitor or 65,536 regions in all: far beyond any real
        // installation; refuse like the guard.
        if (count_outcome) {
          Refuse(kResultsMetric, &warned_results_, &refused_results);
        }
        for (uint8_t bits = observe; bits != 0; bits = static_cast<uint8_t>(bits & (bits - 1))) {
          Refuse(kDurationsMetric, &warned_durations_, &refused_durations);
        }
        count_outcome = false;
        observe = 0;
      } else {
        auto target = record;
        if (target == records_.end()) {
          target = records_.emplace(Key(namespace_name, name), MonitorRecord{}).first;
        }
        series = &AddRegion(target->second, region_index);
      }
    }

    if (count_outcome) {
      if (series->outcomes[outcome_index]++ == 0) {
        ++result_series_;
      }
    }
    for (size_t phase = first_phase; phase < kPhaseCount; ++phase) {
      if (((observe >> phase) & 1u) == 0) {
        continue;
      }
      if (((series->phases >> phase) & 1u) == 0) {
        ++duration_series_;
      }
      PhaseHistogram& histogram = AddPhase(*series, phase);
      // As Histogram::Observe: the first bound >= the value, in seconds.
      const double seconds = static_cast<double>(phase_micros[phase]) / 1e6;
      const auto bound = std::lower_bound(kDurationBounds.begin(), kDurationBounds.end(), seconds);
      if (bound != kDurationBounds.end()) {
        ++histogram.buckets[static_cast<size_t>(bound - kDurationBounds.begin())];
      }
      ++histogram.count;
      histogram.sum += seconds;
    }
  }
  if (refused_results > 0) {
    registry_.CountSeriesOverflow(kResultsMetric, refused_results);
  }
  if (refused_durations > 0) {
    registry_.CountSeriesOverflow(kDurationsMetric, refused_durations);
  }
}

void MonitorSeriesTable::RemoveMonitor(std::string_view namespace_name, std::string_view name) {
  MutexLock lock(mutex_);
  const auto record = records_.find(KeyView{namespace_name, name});
  if (record == records_.end()) {
    return;
  }
  DropRegionsLocked(record, [](std::string_view) { return true; });
}

void MonitorSeriesTable::KeepRegions(std::string_view namespace_name, std::string_view name,
                                     const std::vector<std::string>& regions) {
  MutexLock lock(mutex_);
  const auto record = records_.find(KeyView{namespace_name, name});
  if (record == records_.end()) {
    return;
  }
  DropRegionsLocked(record, [&regions](std::string_view region) {
    return std::find(regions.begin(), regions.end(), region) == regions.end();
  });
}

template <typename Drop>
void MonitorSeriesTable::DropRegionsLocked(Records::iterator record, Drop drop) {
  MonitorRecord& entry = record->second;
  size_t remaining = 0;
  RegionSeries* regions = entry.regions();
  for (size_t i = 0; i < entry.region_count; ++i) {
    const RegionSeries& series = regions[i];
    if (drop(std::string_view(region_names_[series.region]))) {
      result_series_ -= OutcomeSeries(series);
      duration_series_ -= static_cast<size_t>(std::popcount(series.phases));
    } else {
      ++remaining;
    }
  }
  if (remaining == entry.region_count) {
    return;
  }
  if (remaining == 0) {
    records_.erase(record);
    return;
  }
  // One region left: it moves into the record. More: an exactly sized array.
  std::unique_ptr<RegionSeries[]> kept =
      remaining > 1 ? std::make_unique<RegionSeries[]>(remaining) : nullptr;
  RegionSeries single;
  size_t next = 0;
  for (size_t i = 0; i < entry.region_count; ++i) {
    if (!drop(std::string_view(region_names_[regions[i].region]))) {
      (kept ? kept[next++] : single) = std::move(regions[i]);
    }
  }
  entry.only = std::move(single);
  entry.spilled = std::move(kept);
  entry.region_count = static_cast<uint8_t>(remaining);
}

std::vector<size_t> MonitorSeriesTable::RegionsByName(const MonitorRecord& record) const {
  std::vector<size_t> order(record.region_count);
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) REQUIRES(mutex_) {
    return region_names_[record.regions()[a].region] < region_names_[record.regions()[b].region];
  });
  return order;
}

template <typename WriteRecord>
void MonitorSeriesTable::ForEachRecord(MetricsWriter& writer, WriteRecord write) const {
  std::optional<Key> last;
  while (writer.delivering()) {
    {
      MutexLock lock(mutex_);
      auto it = last ? records_.upper_bound(*last) : records_.begin();
      size_t written = 0;
      for (; it != records_.end() && written < kRecordsPerBatch; ++it, ++written) {
        write(it->first, it->second);
      }
      if (it == records_.end()) {
        return;
      }
      last = std::prev(it)->first;
    }
    writer.Flush();
  }
}

void MonitorSeriesTable::Write(MetricsWriter& writer) const {
  std::vector<std::string> labels(4);
  const auto set_labels = [&](const Key& key, const RegionSeries& series, std::string_view last)
                              REQUIRES(mutex_) {
                                labels[0].assign(key.namespace_name());
                                labels[1].assign(key.name());
                                labels[2].assign(region_names_[series.region]);
                                labels[3].assign(last);
                              };

  if (writer.BeginFamily(kResultsMetric,
                         "Check results ingested, by outcome (error = the probe could not run the "
                         "check, never the target being down).",
                         MetricType::kCounter, {"namespace", "monitor", "region", "outcome"})) {
    ForEachRecord(writer, [&](const Key& key, const MonitorRecord& record) REQUIRES(mutex_) {
      for (size_t region : RegionsByName(record)) {
        const RegionSeries& series = record.regions()[region];
        for (size_t outcome : kOutcomesByName) {
          if (series.outcomes[outcome] == 0) {
            continue;
          }
          set_labels(key, series, kOutcomeNames[outcome]);
          writer.Sample(labels, static_cast<double>(series.outcomes[outcome]));
        }
      }
    });
  }

  if (writer.BeginFamily(
          kDurationsMetric,
          "Duration of each phase of a check (dns, connect, tls, firstByte, transfer, total).",
          MetricType::kHistogram, {"namespace", "monitor", "region", "phase"})) {
    std::array<uint64_t, kDurationBounds.size() + 1> cumulative;
    ForEachRecord(writer, [&](const Key& key, const MonitorRecord& record) REQUIRES(mutex_) {
      for (size_t region : RegionsByName(record)) {
        const RegionSeries& series = record.regions()[region];
        for (size_t phase : kPhasesByName) {
          if (((series.phases >> phase) & 1u) == 0) {
            continue;
          }
          const PhaseHistogram& histogram = HistogramOf(series, phase);
          uint64_t running = 0;
          for (size_t i = 0; i < histogram.buckets.size(); ++i) {
            running += histogram.buckets[i];
            cumulative[i] = running;
          }
          cumulative.back() = histogram.count;
          set_labels(key, series, kPhaseNames[phase]);
          writer.HistogramSample(labels, kDurationBounds, cumulative, histogram.sum);
        }
      }
    });
  }
}

size_t MonitorSeriesTable::result_series() const {
  MutexLock lock(mutex_);
  return result_series_;
}

size_t MonitorSeriesTable::duration_series() const {
  MutexLock lock(mutex_);
  return duration_series_;
}

size_t MonitorSeriesTable::EstimatedBytes() const {
  // A std::map node: the red-black tree links (colour, parent, left, right) and the pair.
  constexpr size_t kNodeBytes = 4 * sizeof(void*) + sizeof(Records::value_type);
  MutexLock lock(mutex_);
  size_t bytes = 0;
  for (const auto& [key, record] : records_) {
    bytes += MallocChunk(kNodeBytes) + MallocChunk(key.size());
    if (record.region_count > 1) {
      bytes += MallocChunk(record.region_count * sizeof(RegionSeries));
    }
    for (size_t i = 0; i < record.region_count; ++i) {
      const auto phases = static_cast<size_t>(std::popcount(record.regions()[i].phases));
      if (phases > 0) {
        bytes += MallocChunk(phases * sizeof(PhaseHistogram));
      }
    }
  }
  return bytes;
}

}  // namespace pharos
