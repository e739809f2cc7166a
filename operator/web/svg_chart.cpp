#include "operator/web/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "operator/web/web_format.h"

namespace pharos {
namespace {

constexpr int kLeft = 56;
constexpr int kRight = 12;
constexpr int kTop = 12;
constexpr int kBottom = 28;
constexpr int kColours = 8;

std::string Number(double value) {
  if (value >= 100 || value == std::floor(value)) return fmt::format("{:.0f}", value);
  if (value >= 10) return fmt::format("{:.1f}", value);
  return fmt::format("{:.2f}", value);
}

std::string AxisValue(double value, const std::string& unit) {
  if (unit == "ms" && value >= 1000) return Number(value / 1000) + " s";
  return Number(value) + " " + unit;
}

// Tick times and their labels for the span.
std::vector<std::pair<TimePoint, std::string>> TimeTicks(TimePoint from, TimePoint to) {
  using std::chrono::hours;
  const auto span = to - from;
  hours step = hours(3);
  bool days = false;
  if (span > hours(24 * 8)) {
    step = hours(24 * 5);
    days = true;
  } else if (span > hours(36)) {
    step = hours(24);
    days = true;
  } else if (span <= hours(6)) {
    step = hours(1);
  }
  std::vector<std::pair<TimePoint, std::string>> ticks;
  const auto epoch = from.time_since_epoch();
  TimePoint tick(epoch - epoch % step);
  if (tick < from) tick += step;
  for (; tick <= to; tick += step) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(tick);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    ticks.emplace_back(tick, days ? fmt::format("{} {}", parts.tm_mday, kMonths[parts.tm_mon])
                                  : fmt::format("{:02}:00", parts.tm_hour));
  }
  return ticks;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

std::vector<double> SvgChart::Ticks(double max, int at_most) {
  if (!(max > 0)) max = 1;
  const double rough = max / at_most;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (max / step <= at_most) break;
  }
  std::vector<double> ticks;
  for (double value = 0; value < max + step * 0.999; value += step) ticks.push_back(value);
  return ticks;
}

std::string SvgChart::Render(const ChartSpec& spec) {
  const double plot_width = kWidth - kLeft - kRight;
  const double plot_height = kHeight - kTop - kBottom;
  const double span_ms =
      std::max<double>(1, std::chrono::duration<double, std::milli>(spec.to - spec.from).count());
  auto x_of = [&](TimePoint at) {
    return kLeft +
           plot_width * std::chrono::duration<double, std::milli>(at - spec.from).count() / span_ms;
  };

  // Stacked: each series sits on the sum of those before it, bucket by bucket.
  std::vector<std::vector<ChartPoint>> tops;
  double max = 0;
  bool any = false;
  for (size_t s = 0; s < spec.series.size(); ++s) {
    std::vector<ChartPoint> top = spec.series[s].points;
    if (spec.stacked && s > 0) {
      for (size_t i = 0; i < top.size() && i < tops[s - 1].size(); ++i) {
        if (top[i].value && tops[s - 1][i].value) *top[i].value += *tops[s - 1][i].value;
      }
    }
    for (const ChartPoint& point : top) {
      if (point.value) {
        max = std::max(max, *point.value);
        any = true;
      }
    }
    tops.push_back(std::move(top));
  }
  const std::vector<double> ticks = Ticks(max);
  const double y_max = ticks.back() > 0 ? ticks.back() : 1;
  auto y_of = [&](double value) { return kTop + plot_height * (1 - value / y_max); };

  std::string desc;
  for (const ChartSeries& series : spec.series) {
    std::vector<double> values;
    for (const ChartPoint& point : series.points) {
      if (point.value) values.push_back(*point.value);
    }
    if (values.empty()) {
      desc += series.name + ": no data. ";
      continue;
    }
    desc += fmt::format("{}: median {}, from {} to {}. ", series.name,
                        AxisValue(Median(values), spec.unit),
                        AxisValue(*std::min_element(values.begin(), values.end()), spec.unit),
                        AxisValue(*std::max_element(values.begin(), values.end()), spec.unit));
  }
  if (spec.series.empty()) desc = "No data in this period.";

  std::string out = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-labelledby=\"{}-t {}-d\" "
      "preserveAspectRatio=\"xMidYMid meet\"><title id=\"{}-t\">{}</title><desc "
      "id=\"{}-d\">{}</desc>",
      kWidth, kHeight, spec.id, spec.id, spec.id, HtmlEscaped(spec.title), spec.id,
      HtmlEscaped(desc));
  for (const double tick : ticks) {
    const double y = y_of(tick);
    out += fmt::format("<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>",
                       kLeft, kWidth - kRight, y, y);
    out += fmt::format("<text class=\"axis\" x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>",
                       kLeft - 6, y + 4, HtmlEscaped(AxisValue(tick, spec.unit)));
  }
  for (const auto& [at, label] : TimeTicks(spec.from, spec.to)) {
    out +=
        fmt::format("<text class=\"axis\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    x_of(at), kHeight - 8, HtmlEscaped(label));
  }
  if (!any) {
    out += fmt::format(
        "<text class=\"nodata\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">No "
        "data in this period</text>",
        kLeft + plot_width / 2, kTop + plot_height / 2);
  }

  // Draw back to front for areas (the largest first), in order for lines.
  for (size_t k = 0; k < tops.size(); ++k) {
    const size_t s = spec.stacked ? tops.size() - 1 - k : k;
    const std::vector<ChartPoint>& top = tops[s];
    const std::string colour = fmt::format("c{}", s % kColours);
    std::vector<std::string> runs;
    std::string run;
    std::string base;
    for (size_t i = 0; i <= top.size(); ++i) {
      const bool has = i < top.size() && top[i].value.has_value();
      if (has) {
        const double x = x_of(top[i].at);
        run += fmt::format("{:.1f},{:.1f} ", x, y_of(*top[i].value));
        base.insert(0, fmt::format("{:.1f},{:.1f} ", x, y_of(0)));
        continue;
      }
      if (!run.empty()) {
        run.pop_back();  // the last point's separator
        if (spec.stacked) {
          out += fmt::format("<polygon class=\"area {}\" points=\"{} {}\"/>", colour, run, base);
        } else if (run.find(' ') == std::string::npos) {
          const size_t comma = run.find(',');
          out += fmt::format("<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"2.5\"/>", colour,
                             run.substr(0, comma), run.substr(comma + 1));
        } else {
          out += fmt::format("<polyline class=\"series {}\" points=\"{}\"/>", colour, run);
        }
      }
      run.clear();
      base.clear();
    }
  }
  out += "</svg>\n<ul class=\"chart-legend\">";
  for (size_t s = 0; s < spec.series.size(); ++s) {
    out += fmt::format("<li><span class=\"key c{}\" aria-hidden=\"true\"></span>{}</li>",
                       s % kColours, HtmlEscaped(spec.series[s].name));
  }
  out += "</ul>\n";
  return out;
}

}  // namespace pharos
