#include "operator/web/badge_svg.h"

#include <fmt/format.h>

#include <cmath>

#include "operator/web/web_format.h"

namespace pharos {
namespace {

// Advance widths of DejaVu Sans at 11 px for ' ' (32) to '~' (126), in tenths of a pixel.
constexpr int kWidths[] = {35,  44, 51, 92, 70, 105, 86, 30,  43, 43, 55, 92, 35, 40,  35, 37,
                           70,  70, 70, 70, 70, 70,  70, 70,  70, 70, 37, 37, 92, 92,  92, 58,
                           110, 75, 75, 77, 85, 70,  63, 85,  83, 32, 32, 72, 61, 95,  82, 87,
                           66,  87, 76, 70, 67, 81,  75, 109, 75, 67, 75, 43, 37, 43,  92, 55,
                           55,  67, 70, 60, 70, 68,  39, 70,  70, 31, 31, 64, 31, 107, 70, 67,
                           70,  70, 45, 57, 43, 70,  65, 90,  65, 65, 58, 70, 37, 70,  92};
constexpr int kOtherWidth = 70;
constexpr int kPadding = 100;  // 5 px each side, tenths

std::string_view StateColour(MonitorState state) {
  switch (state) {
    case MonitorState::kUp:
      return BadgeSvg::kGreen;
    case MonitorState::kDegraded:
      return BadgeSvg::kYellow;
    case MonitorState::kDown:
      return BadgeSvg::kRed;
    case MonitorState::kMaintenance:
      return BadgeSvg::kBlue;
    case MonitorState::kPaused:
    case MonitorState::kPending:
    case MonitorState::kInvalid:
      return BadgeSvg::kGrey;
  }
  return BadgeSvg::kGrey;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

int BadgeSvg::TextWidth(std::string_view text) {
  int width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 32 && c <= 126) {
      width += kWidths[c - 32];
    } else if ((c & 0xC0) != 0x80) {  // one width per UTF-8 character
      width += kOtherWidth;
    }
  }
  return width;
}

std::string BadgeSvg::Render(std::string_view label, std::string_view value,
                             std::string_view colour) {
  const int label_text = TextWidth(label);
  const int value_text = TextWidth(value);
  const int label_width = label_text + kPadding;  // tenths
  const int value_width = value_text + kPadding;
  const int total = label_width + value_width;
  const std::string title = HtmlEscaped(std::string(label) + ": " + std::string(value));
  const auto px = [](int tenths) { return (tenths + 5) / 10; };
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"20\" role=\"img\" "
      "aria-label=\"{t}\"><title>{t}</title>"
      "<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" "
      "stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>"
      "<clipPath id=\"r\"><rect width=\"{w}\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>"
      "<g clip-path=\"url(#r)\"><rect width=\"{lw}\" height=\"20\" fill=\"#555\"/>"
      "<rect x=\"{lw}\" width=\"{vw}\" height=\"20\" fill=\"{c}\"/>"
      "<rect width=\"{w}\" height=\"20\" fill=\"url(#s)\"/></g>"
      "<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu "
      "Sans,sans-serif\" "
      "text-rendering=\"geometricPrecision\" font-size=\"110\">"
      "<text aria-hidden=\"true\" x=\"{lx}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" "
      "transform=\"scale(.1)\" textLength=\"{lt}\">{l}</text>"
      "<text x=\"{lx}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" "
      "textLength=\"{lt}\">{l}</text>"
      "<text aria-hidden=\"true\" x=\"{vx}\" y=\"150\" fill=\"#010101\" fill-opacity=\".3\" "
      "transform=\"scale(.1)\" textLength=\"{vt}\">{v}</text>"
      "<text x=\"{vx}\" y=\"140\" transform=\"scale(.1)\" fill=\"#fff\" "
      "textLength=\"{vt}\">{v}</text>"
      "</g></svg>",
      fmt::arg("w", px(total)), fmt::arg("t", title), fmt::arg("lw", px(label_width)),
      fmt::arg("vw", px(total) - px(label_width)), fmt::arg("c", colour),
      fmt::arg("lx", px(label_width) * 5), fmt::arg("lt", label_text),
      fmt::arg("l", HtmlEscaped(label)),
      fmt::arg("vx", px(label_width) * 10 + (px(total) - px(label_width)) * 5),
      fmt::arg("vt", value_text), fmt::arg("v", HtmlEscaped(value)));
}

std::string BadgeSvg::Status(const MonitorStatus& status) {
  return Render("status", Lower(ToString(status.state)), StateColour(status.state));
}

std::string BadgeSvg::Uptime(std::optional<double> percent, std::string_view window) {
  const std::string label = "uptime " + std::string(window);
  if (!percent) return Render(label, "no data", kGrey);
  std::string_view colour = kRed;
  if (*percent >= 99.9) {
    colour = kGreen;
  } else if (*percent >= 99) {
    colour = kYellowGreen;
  } else if (*percent >= 97) {
    colour = kYellow;
  } else if (*percent >= 95) {
    colour = kOrange;
  }
  return Render(label, FormatPercent(percent), colour);
}

std::string BadgeSvg::Latency(std::optional<int64_t> p50_us, const MonitorStatus& status) {
  if (!p50_us) return Render("response time", "no data", kGrey);
  const double ms = static_cast<double>(*p50_us) / 1000.0;
  const std::string text =
      ms < 10 ? fmt::format("{:.1f} ms", ms) : fmt::format("{:.0f} ms", std::round(ms));
  std::string_view colour = kBlue;
  if (status.monitor && status.monitor->degraded_after) {
    colour = *p50_us > status.monitor->degraded_after->count() * 1000 ? kYellow : kGreen;
  }
  return Render("response time", text, colour);
}

std::string BadgeSvg::NotFound(std::string_view label) { return Render(label, "not found", kGrey); }

}  // namespace pharos
