#include "common/prometheus_text.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <limits>

namespace pharos {
namespace {

TEST(PrometheusTextTest, MetricNames) {
  EXPECT_TRUE(IsValidMetricName("pharos_checks_total"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_TRUE(IsValidMetricName(":x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName("a b"));
  EXPECT_FALSE(IsValidMetricName("é"));
}

TEST(PrometheusTextTest, LabelNames) {
  EXPECT_TRUE(IsValidLabelName("region"));
  EXPECT_TRUE(IsValidLabelName("_x9"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("__x"));
  EXPECT_FALSE(IsValidLabelName("a:b"));  // colons are for metric names only
  EXPECT_FALSE(IsValidLabelName("9a"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(PrometheusTextTest, ValuesAsPrometheusParsesThem) {
  EXPECT_EQ(FormatPrometheusValue(0), "0");
  EXPECT_EQ(FormatPrometheusValue(42), "42");
  EXPECT_EQ(FormatPrometheusValue(-1.5), "-1.5");
  EXPECT_EQ(FormatPrometheusValue(0.1), "0.1");
  EXPECT_EQ(FormatPrometheusValue(1e21), "1e+21");
  EXPECT_EQ(FormatPrometheusValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatPrometheusValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatPrometheusValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatPrometheusValue(std::nan("")), "NaN");
}

TEST(PrometheusTextTest, ValuesIgnoreTheLocale) {
  const char* previous = std::setlocale(LC_NUMERIC, nullptr);
  const std::string saved = previous == nullptr ? "C" : previous;
  // A decimal-comma locale, when the machine has one; the C++ formatting must not care.
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") == nullptr) {
    std::setlocale(LC_NUMERIC, "C.UTF-8");
  }
  EXPECT_EQ(FormatPrometheusValue(2.5), "2.5");
  std::setlocale(LC_NUMERIC, saved.c_str());
}

TEST(PrometheusTextTest, LabelValueEscaping) {
  std::string out;
  AppendEscapedLabelValue(out, "a\\b\"c\nd");
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd");
}

TEST(PrometheusTextTest, HelpEscapingKeepsQuotes) {
  std::string out;
  AppendEscapedHelp(out, "say \"hi\"\\\nbye");
  EXPECT_EQ(out, "say \"hi\"\\\\\\nbye");
}

TEST(PrometheusTextTest, InvalidUtf8IsReplaced) {
  std::string out;
  AppendEscapedLabelValue(out, "ok \xC3\xA9 bad \xFF end \xE2\x82");
  EXPECT_EQ(out, "ok \xC3\xA9 bad \xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  AppendEscapedLabelValue(out, "\xC0\xAF");  // overlong '/'
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  AppendEscapedHelp(out, "\xF0\x9F\x9A\x80");  // a valid 4-byte sequence stays
  EXPECT_EQ(out, "\xF0\x9F\x9A\x80");
}

}  // namespace
}  // namespace pharos
