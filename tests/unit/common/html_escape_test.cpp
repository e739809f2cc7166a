#include "common/html_escape.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(HtmlEscapeTest, EscapesMarkupAndDoubleQuotes) {
  EXPECT_EQ(HtmlEscaped("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry's&lt;/a&gt;");
}

TEST(HtmlEscapeTest, AppendsToWhatIsThere) {
  std::string out = "<b>";
  AppendHtmlEscaped(out, "1 < 2");
  EXPECT_EQ(out, "<b>1 &lt; 2");
}

TEST(HtmlEscapeTest, LeavesOtherBytesAlone) {
  const std::string text = "caf\xc3\xa9 \x01 100% {ok}";
  EXPECT_EQ(HtmlEscaped(text), text);
}

}  // namespace
}  // namespace pharos
