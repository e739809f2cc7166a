#pragma once

// MetricsWriter: renders metric families into the Prometheus text exposition format 0.0.4. The
// registry writes its own families through it, and scrape-time collectors (see
// MetricsRegistry::AddCollector) use it to publish values computed on the spot, e.g. the state of
// every monitor, without keeping a copy of that state in metric objects.
// It keeps the output valid whatever it is fed: names are checked, label values escaped, a family
// name used twice in one scrape and a label set repeated within a family are dropped (label sets
// are compared by a 64-bit hash of their text, so the check costs 8 bytes per series, not a copy
// of every label set). Each such problem is recorded in problems() (the registry logs them).
// Cost: the text is appended straight into one output string; no per-line allocation (numbers
// are formatted in place, histogram `le` labels once per family).
// Streaming (StreamTo): the text is handed to a sink in pieces at the Flush points the caller
// chooses — points where it holds no lock, since the sink may wait for a slow client — so a scrape
// holds one piece, not the whole page (hundreds of megabytes with 50,000 monitors).
// Thread-safety: not thread-safe; one writer serves one scrape on one thread.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace pharos {

enum class MetricType { kCounter, kGauge, kHistogram };

class MetricsWriter {
 public:
  MetricsWriter() = default;
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Starts a family: writes its HELP and TYPE lines; the samples that follow belong to it. Returns
  // false, and drops the samples up to the next BeginFamily, when the name or a label name is
  // invalid, a counter's name does not end in "_total", a histogram uses the label "le", or the
  // family was already written in this scrape.
  bool BeginFamily(std::string_view name, std::string_view help, MetricType type,
                   std::vector<std::string> label_names = {});

  // One sample of the current counter or gauge family, label values in the order of the label
  // names given to BeginFamily.
  void Sample(const std::vector<std::string>& label_values, double value);

  // One series of the current histogram family. `cumulative_counts[i]` is the number of
  // observations <= `upper_bounds[i]`; it has one more entry than `upper_bounds`: the +Inf bucket,
  // which is also written as _count.
  void HistogramSample(const std::vector<std::string>& label_values,
                       std::span<const double> upper_bounds,
                       std::span<const uint64_t> cumulative_counts, double sum);

  // Takes a piece of the text; false when the consumer is gone (the rest is not wanted).
  using Sink = std::function<bool(std::string_view piece)>;
  // From now on Flush hands the text to `sink` once at least `piece_bytes` are buffered.
  void StreamTo(Sink sink, size_t piece_bytes);
  // A point where the caller holds no lock. When streaming and a piece is buffered, hands it to
  // the sink (which may block until the client has room for it); otherwise does nothing.
  void Flush() {
    if (sink_ && text_.size() >= piece_bytes_) {
      Deliver();
    }
  }
  // Hands everything buffered to the sink (the end of the exposition).
  void FlushAll() {
    if (sink_ && !text_.empty()) {
      Deliver();
    }
  }
  // False once the sink refused a piece: whatever is written from then on is dropped, and a
  // collector may stop early.
  bool delivering() const { return !abandoned_; }

  // The text written and not yet handed to a sink.
  const std::string& text() const { return text_; }
  std::string TakeText() { return std::move(text_); }

  // What was dropped and why, one sentence each, in the order it happened.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  // Checks the sample against the current family; on success leaves the rendered label pairs
  // (without braces) in label_text_.
  bool PrepareSample(const std::vector<std::string>& label_values, MetricType expected);
  void AppendSeriesLine(std::string_view suffix, std::string_view extra_label,
                        std::string_view value);
  void Deliver();

  std::string text_;
  Sink sink_;
  size_t piece_bytes_ = 0;
  bool abandoned_ = false;
  std::vector<std::string> problems_;
  std::unordered_set<std::string> written_families_;
  // The family being written; empty when BeginFamily refused it.
  std::string family_;
  MetricType type_ = MetricType::kGauge;
  std::vector<std::string> label_names_;
  std::unordered_set<uint64_t> series_in_family_;  // hashes of the label texts written
  std::string label_text_;
  // The `le="..."` labels of the last histogram bounds seen (every series of a family shares
  // them), so that each bound is formatted once per family, not once per series.
  std::vector<double> le_bounds_;
  std::vector<std::string> le_labels_;
};

}  // namespace pharos
