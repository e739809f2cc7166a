#pragma once

// BadgeSvg: shields.io-style "flat" badges (a grey label, a coloured value) for READMEs:
// /badge/{namespace}/{name}/status.svg, uptime.svg?window=24h|7d|30d and latency.svg
// (docs/status-pages.md, "Badges"). The text is in the image (and in its <title> and
// aria-label); widths come from DejaVu Sans advance widths at 11 px, and textLength pins the
// text to them in any font.
// Thread-safety: free functions.

#include <optional>
#include <string>
#include <string_view>

#include "operator/control/monitor_status.h"

namespace pharos {

class BadgeSvg {
 public:
  // shields' colours
  static constexpr std::string_view kGreen = "#4c1";
  static constexpr std::string_view kYellowGreen = "#97ca00";
  static constexpr std::string_view kYellow = "#dfb317";
  static constexpr std::string_view kOrange = "#fe7d37";
  static constexpr std::string_view kRed = "#e05d44";
  static constexpr std::string_view kBlue = "#007ec6";
  static constexpr std::string_view kGrey = "#9f9f9f";

  static std::string Render(std::string_view label, std::string_view value,
                            std::string_view colour);
  // Width of `text` in tenths of a pixel.
  static int TextWidth(std::string_view text);

  // The badges of a monitor.
  static std::string Status(const MonitorStatus& status);
  static std::string Uptime(std::optional<double> percent, std::string_view window);
  static std::string Latency(std::optional<int64_t> p50_us, const MonitorStatus& status);
  // A badge for a monitor that does not exist.
  static std::string NotFound(std::string_view label);
};

}  // namespace pharos
