#pragma once

// Building blocks of the Prometheus text exposition format 0.0.4: name rules, escaping and number
// formatting, shared by the metrics registry and anything else that renders samples.
// Thread-safety: free functions; no shared state.

#include <string>
#include <string_view>

namespace pharos {

// The Content-Type of a /metrics response in text format 0.0.4.
inline constexpr std::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// A metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);

// A label name: [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (reserved for Prometheus).
bool IsValidLabelName(std::string_view name);

// A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN", otherwise the shortest text that
// reads back as the same double ("0.1", "42", "1e+21"), independent of the locale.
std::string FormatPrometheusValue(double value);

// Appends `value` escaped for a label value: backslash, double quote and line feed become \\, \"
// and \n. Invalid UTF-8 is replaced by U+FFFD so that a scrape never fails on it.
void AppendEscapedLabelValue(std::string& out, std::string_view value);

// Appends `text` escaped for a HELP line: backslash and line feed become \\ and \n. Invalid UTF-8
// is replaced by U+FFFD.
void AppendEscapedHelp(std::string& out, std::string_view text);

}  // namespace pharos
