#include "operator/storage/latency_histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace pharos {
namespace {

constexpr int64_t kFirstBound = 100;         // µs
constexpr int64_t kLastBound = 600'000'000;  // 10 minutes: bounds stop once past it

const std::vector<int64_t>& Bounds() {
  static const std::vector<int64_t> bounds = [] {
    std::vector<int64_t> b{kFirstBound};
    while (b.back() <= kLastBound) b.push_back(b.back() + b.back() / 10);
    return b;
  }();
  return bounds;
}

bool ParseInt(std::string_view text, int64_t& value) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// Splits `text` at the first `separator`: returns the head, leaves the rest in `text`.
std::string_view Take(std::string_view& text, char separator) {
  const size_t at = text.find(separator);
  const std::string_view head = text.substr(0, at);
  text = at == std::string_view::npos ? std::string_view() : text.substr(at + 1);
  return head;
}

}  // namespace

int LatencyHistogram::BucketCount() { return static_cast<int>(Bounds().size()) + 1; }

int64_t LatencyHistogram::BucketUpperBound(int index) {
  const auto& bounds = Bounds();
  if (index < 0) return 0;
  if (index >= static_cast<int>(bounds.size())) return std::numeric_limits<int64_t>::max();
  return bounds[index];
}

int LatencyHistogram::BucketFor(int64_t micros) {
  const auto& bounds = Bounds();
  return static_cast<int>(std::upper_bound(bounds.begin(), bounds.end(), micros) - bounds.begin());
}

void LatencyHistogram::Add(int64_t micros) {
  micros = std::max<int64_t>(micros, 0);
  ++buckets_[BucketFor(micros)];
  min_ = count_ == 0 ? micros : std::min(min_, micros);
  max_ = count_ == 0 ? micros : std::max(max_, micros);
  ++count_;
  sum_ += micros;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

std::optional<int64_t> LatencyHistogram::min_us() const {
  if (count_ == 0) return std::nullopt;
  return min_;
}

std::optional<int64_t> LatencyHistogram::max_us() const {
  if (count_ == 0) return std::nullopt;
  return max_;
}

std::optional<int64_t> LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  const int64_t rank = std::clamp<int64_t>(
      static_cast<int64_t>(std::ceil(q * static_cast<double>(count_))), 1, count_);
  // The extremes are known exactly.
  if (rank == count_) return max_;
  if (rank == 1) return min_;
  int64_t below = 0;
  for (int i = 0; i < static_cast<int>(buckets_.size()); ++i) {
    const int64_t in_bucket = buckets_[i];
    if (below + in_bucket < rank) {
      below += in_bucket;
      continue;
    }
    // Spread the bucket's samples evenly over its range; take the middle of the rank's slice.
    const double lower = static_cast<double>(std::max(BucketUpperBound(i - 1), min_));
    const double upper = static_cast<double>(std::min(BucketUpperBound(i), max_ + 1));
    const double position =
        (static_cast<double>(rank - below) - 0.5) / static_cast<double>(in_bucket);
    const auto estimate = static_cast<int64_t>(lower + (upper - lower) * position);
    return std::clamp(estimate, min_, max_);
  }
  return max_;
}

std::string LatencyHistogram::Encode() const {
  std::string text = fmt::format("v1;{};{};{};{};", count_, sum_, min_, max_);
  bool first = true;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (buckets_[i] == 0) continue;
    text += fmt::format("{}{}:{}", first ? "" : ",", i, buckets_[i]);
    first = false;
  }
  return text;
}

Result<LatencyHistogram> LatencyHistogram::Decode(std::string_view text) {
  const std::string quoted = fmt::format("latency histogram '{}'", text.substr(0, 80));
  std::string_view rest = text;
  if (Take(rest, ';') != "v1") return Error{quoted + ": unknown format (expected v1;...)"};
  LatencyHistogram histogram;
  int64_t* const fields[] = {&histogram.count_, &histogram.sum_, &histogram.min_, &histogram.max_};
  for (int64_t* field : fields) {
    if (!ParseInt(Take(rest, ';'), *field)) return Error{quoted + ": bad count/sum/min/max"};
  }
  int64_t total = 0;
  while (!rest.empty()) {
    std::string_view pair = Take(rest, ',');
    int64_t index = 0;
    int64_t count = 0;
    if (!ParseInt(Take(pair, ':'), index) || !ParseInt(pair, count) || index < 0 ||
        index >= BucketCount() || count < 0) {
      return Error{quoted + ": bad bucket entry"};
    }
    histogram.buckets_[index] += count;
    total += count;
  }
  if (total != histogram.count_) {
    return Error{quoted + ": bucket counts do not add up to the total"};
  }
  return histogram;
}

}  // namespace pharos
