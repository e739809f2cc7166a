#pragma once

// MonitorSeriesTable: the per-monitor result counters and phase-duration histograms,
// pharos_check_results_total{namespace,monitor,region,outcome} and
// pharos_check_duration_seconds{namespace,monitor,region,phase}, kept compactly and written at
// scrape time (Write, from a MetricsRegistry collector). It replaces a CounterFamily and a
// HistogramFamily whose series each cost a map node keyed by four strings plus a heap-allocated
// metric object (≈ 2,180 B per one-region plain HTTP monitor with every phase, 640 B with
// `total`, measured like the memory test does); here one record per monitor holds its regions
// (up to 255), and a region holds 4 outcome counters and a compact histogram per phase actually
// observed: ≈ 432 and 208 B (see the figures at MonitorRecord below).
//
// Exposition contract (docs/monitoring.md): the same names, HELP, label names and bucket bounds as
// the families it replaces, series in (namespace, monitor, region, outcome|phase) order. A series
// appears once it has counted something: an outcome counter on its first result, a phase histogram
// on its first observation (phases of 0 µs and every phase of an `error` result are not
// observed). Cardinality guard as in MetricFamily: each of the two families keeps at most
// `max_series` series (one per label set); a new label set beyond that is dropped, logged once per
// family and counted in pharos_metrics_series_overflow_total{metric="<family>"}.
//
// Thread-safety: every method may be called from any thread; one mutex guards the table. Write
// holds it for a bounded batch of monitors at a time, so a long scrape does not stall results.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.h"
#include "common/metrics_registry.h"
#include "common/metrics_writer.h"
#include "common/mutex.h"

namespace pharos {

class MonitorSeriesTable {
 public:
  // Which phases pharos_check_duration_seconds records: every phase, or only `total`.
  enum class DurationPhases { kAll, kTotal };

  static constexpr std::string_view kResultsMetric = "pharos_check_results_total";
  static constexpr std::string_view kDurationsMetric = "pharos_check_duration_seconds";
  // Bucket bounds of pharos_check_duration_seconds, in seconds (+Inf is implicit).
  static constexpr std::array<double, 11> kDurationBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,    2.5,   5,    10};

  struct Options {
    size_t max_series = 250'000;  // per family
    DurationPhases duration_phases = DurationPhases::kAll;
  };

  // `registry` counts the label sets the guard refuses; it must outlive the table.
  MonitorSeriesTable(MetricsRegistry& registry, Options options);
  MonitorSeriesTable(const MonitorSeriesTable&) = delete;
  MonitorSeriesTable& operator=(const MonitorSeriesTable&) = delete;

  // Counts one result of (namespace, monitor) in `region` and observes its phase durations.
  void Record(std::string_view namespace_name, std::string_view name, std::string_view region,
              Outcome outcome, const Timings& timings);
  // Drops every series of (namespace, monitor): the monitor is gone or renamed.
  void RemoveMonitor(std::string_view namespace_name, std::string_view name);
  // Drops the series of (namespace, monitor) in every region not in `regions`: the monitor no
  // longer runs there. The record goes when no region is left.
  void KeepRegions(std::string_view namespace_name, std::string_view name,
                   const std::vector<std::string>& regions);

  // Writes both families (HELP, TYPE, then every series).
  void Write(MetricsWriter& writer) const;

  // Series currently held per family (what the guard compares with max_series).
  size_t result_series() const;
  size_t duration_series() const;
  // Heap and node bytes of the table's records, from sizeof and glibc malloc's chunk sizes
  // (excluding the region-name table), for the memory figures in docs and tests.
  size_t EstimatedBytes() const;

 private:
  static constexpr size_t kOutcomeCount = 4;  // Outcome values, kUp..kError
  static constexpr size_t kPhaseCount = 6;    // dns, connect, tls, firstByte, transfer, total

  // One phase's histogram: per-bucket (not cumulative) counts of the finite bounds; observations
  // above the last bound are count minus their sum. 56 bytes. uint32 counts: at one check per
  // 10 s, a bucket would wrap after 1,361 years.
  struct PhaseHistogram {
    std::array<uint32_t, kDurationBounds.size()> buckets{};
    uint32_t count = 0;
    double sum = 0;
  };

  // One region of a monitor. 32 bytes, plus the histograms (56 bytes per observed phase, one
  // allocation, in phase order, grown when a phase is observed for the first time). A 32-bit
  // outcome counter lasts 1,300 years of 10 s checks.
  struct RegionSeries {
    std::array<uint32_t, kOutcomeCount> outcomes{};  // 0: no series yet
    std::unique_ptr<PhaseHistogram[]> histograms;
    uint16_t region = 0;  // index into region_names_
    uint8_t phases = 0;   // bit i: phase i observed (has a histogram)
  };

  // The map key: namespace and name in one exactly sized buffer (no separator, so any byte is
  // allowed), split at name_offset; 16 bytes, where a std::string would take 32 of the map node.
  // Compared as the pair (namespace, name).
  class Key {
   public:
    Key(std::string_view namespace_name, std::string_view name);
    Key(const Key& other);
    Key(Key&&) noexcept = default;
    Key& operator=(const Key& other);
    Key& operator=(Key&&) noexcept = default;
    ~Key() = default;

    std::string_view namespace_name() const { return {text_.get(), name_offset_}; }
    std::string_view name() const { return {text_.get() + name_offset_, size_ - name_offset_}; }
    size_t size() const { return size_; }

   private:
    std::unique_ptr<char[]> text_;
    uint32_t size_ = 0;
    uint32_t name_offset_ = 0;
  };
  struct KeyView {
    std::string_view namespace_name;
    std::string_view name;
  };
  struct KeyLess {
    using is_transparent = void;
    static KeyView View(const Key& key) { return {key.namespace_name(), key.name()}; }
    static KeyView View(const KeyView& key) { return key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const KeyView x = View(a);
      const KeyView y = View(b);
      return x.namespace_name != y.namespace_name ? x.namespace_name < y.namespace_name
                                                  : x.name < y.name;
    }
  };

  // One monitor: its regions. The first lives in the record (most monitors have one region);
  // with more, all of them are in `spilled`, exactly sized (regions change rarely). With the map
  // node (a 112-byte malloc chunk) and the key's text (a 32-byte chunk for up to 24 bytes of
  // namespace + name), a one-region monitor costs ≈ 112 + 32 + 288 = 432 bytes with 5 phases
  // (`all`, plain HTTP) and ≈ 208 with `total`; each further region 32 + 288 or 32 + 64.
  struct MonitorRecord {
    RegionSeries only;                        // the region while region_count <= 1
    std::unique_ptr<RegionSeries[]> spilled;  // every region while region_count > 1
    uint8_t region_count = 0;
    RegionSeries* regions() { return region_count > 1 ? spilled.get() : &only; }
    const RegionSeries* regions() const { return region_count > 1 ? spilled.get() : &only; }
  };
  using Records = std::map<Key, MonitorRecord, KeyLess>;

  // Where `region` of `record` lives; nullptr when absent.
  static RegionSeries* FindRegion(MonitorRecord& record, uint16_t region);
  static const PhaseHistogram& HistogramOf(const RegionSeries& series, size_t phase);
  // Adds an empty region entry to `record` and returns it.
  static RegionSeries& AddRegion(MonitorRecord& record, uint16_t region);
  // The histogram of `phase` in `series`, added (empty) if the phase was not observed yet.
  static PhaseHistogram& AddPhase(RegionSeries& series, size_t phase);
  // Outcome series of `series` (its phase series: popcount of phases).
  static size_t OutcomeSeries(const RegionSeries& series);
  // Drops the regions of `record` for which `drop(region name)` holds; erases the record when
  // none is left.
  template <typename Drop>
  void DropRegionsLocked(Records::iterator record, Drop drop) REQUIRES(mutex_);

  // The index of `region`, interned on first use; false when the index space is exhausted.
  bool InternRegion(std::string_view region, uint16_t* index) REQUIRES(mutex_);
  // Counts a refused label set of `metric` and warns once per family.
  void Refuse(std::string_view metric, bool* warned, size_t* refused) REQUIRES(mutex_);
  // Region indexes of `record` ordered by region name.
  std::vector<size_t> RegionsByName(const MonitorRecord& record) const REQUIRES(mutex_);
  // Calls `write(key, record)` for every record, kRecordsPerBatch records per hold of mutex_,
  // and lets `writer` flush between batches (with mutex_ released). Stops early once the
  // writer's client is gone.
  template <typename WriteRecord>
  void ForEachRecord(MetricsWriter& writer, WriteRecord write) const;

  MetricsRegistry& registry_;
  const size_t max_series_;
  const DurationPhases duration_phases_;

  mutable Mutex mutex_;
  Records records_ GUARDED_BY(mutex_);
  std::vector<std::string> region_names_ GUARDED_BY(mutex_);
  std::map<std::string, uint16_t, std::less<>> region_indexes_ GUARDED_BY(mutex_);
  size_t result_series_ GUARDED_BY(mutex_) = 0;
  size_t duration_series_ GUARDED_BY(mutex_) = 0;
  bool warned_results_ GUARDED_BY(mutex_) = false;
  bool warned_durations_ GUARDED_BY(mutex_) = false;
};

}  // namespace pharos
