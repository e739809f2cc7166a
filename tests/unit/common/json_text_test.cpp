#include "common/json_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace pharos {
namespace {

TEST(JsonTextTest, EveryStringReadsBackAsItself) {
  std::string every_control;
  for (int c = 1; c < 0x20; ++c) every_control += static_cast<char>(c);
  for (const std::string& value :
       {std::string(), std::string("uid-1@eu-west@1796600000000"), std::string("say \"hi\""),
        std::string("back\\slash"), every_control, std::string("caf\xc3\xa9 \xe2\x9c\x93"),
        std::string("nul\0inside", 10), std::string("</script>")}) {
    std::string out;
    AppendJsonString(out, value);
    const nlohmann::json parsed = nlohmann::json::parse(out);
    ASSERT_TRUE(parsed.is_string()) << out;
    EXPECT_EQ(parsed.get<std::string>(), value) << out;
  }
}

TEST(JsonTextTest, ControlCharactersAreEscapedNotPassedThrough) {
  std::string out;
  AppendJsonString(out, std::string("a\x01\n\t\"", 5));
  EXPECT_EQ(out, "\"a\\u0001\\n\\t\\\"\"");
}

TEST(JsonTextTest, KeysAppendTheirColon) {
  std::string out = "{";
  AppendJsonKey(out, "monitorUid");
  AppendJsonString(out, "x");
  out += '}';
  EXPECT_EQ(nlohmann::json::parse(out)["monitorUid"], "x");
}

}  // namespace
}  // namespace pharos
