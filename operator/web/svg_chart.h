#pragma once

// SvgChart: time-series charts drawn on the server as SVG (the dashboard's response times per
// region and per phase), so that they work without script and without a charting library:
// lines (one per series, gaps where a bucket had no data) or stacked areas, a UTC time axis, a
// value axis with round ticks, and a text alternative (role="img", <title> and a <desc> giving
// each series' minimum, median and maximum). Colours come from the stylesheet (classes c0..c7,
// a palette readable by people with colour-vision deficiencies); the legend is HTML beside it.
// Thread-safety: free functions.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "operator/control/monitor_state.h"

namespace pharos {

struct ChartPoint {
  TimePoint at{};               // start of the bucket
  std::optional<double> value;  // nullopt: no data in this bucket
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;  // oldest first
};

struct ChartSpec {
  std::string id;     // unique in the page (for aria ids)
  std::string title;  // "Response time by region, last 24 hours"
  std::string unit = "ms";
  TimePoint from{};
  TimePoint to{};
  bool stacked = false;  // areas stacked in series order (phases add up to the total)
  std::vector<ChartSeries> series;
};

class SvgChart {
 public:
  static constexpr int kWidth = 720;
  static constexpr int kHeight = 240;

  // The <svg> element followed by its HTML legend.
  static std::string Render(const ChartSpec& spec);
  // Round tick values covering [0, max]: 0, step, 2·step... with step 1, 2 or 5 × 10^n.
  static std::vector<double> Ticks(double max, int at_most = 5);
};

}  // namespace pharos
