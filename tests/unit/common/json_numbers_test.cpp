#include "common/json_numbers.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(JsonNumbersTest, OutOfRangeNumbersBecomeTheLargestDouble) {
  EXPECT_THROW({ [[maybe_unused]] auto parsed = nlohmann::json::parse(R"({"a": 1e400})"); },
               nlohmann::json::out_of_range);
  const nlohmann::json parsed =
      ParseJsonClampingNumbers(R"({"a": 1e400, "b": -2E+999, "c": "1e400", "d": [1, 2.5e3]})");
  EXPECT_EQ(parsed["a"].get<double>(), 1.7976931348623157e308);
  EXPECT_EQ(parsed["b"].get<double>(), -1.7976931348623157e308);
  EXPECT_EQ(parsed["c"], "1e400");  // strings are not numbers
  EXPECT_EQ(parsed["d"][1].get<double>(), 2500);
}

TEST(JsonNumbersTest, TextWithoutSuchNumbersIsUnchanged) {
  const std::string text =
      R"({"s": "say \"1e999\"", "n": -0.5e-400, "big": 123456789012345678901})";
  EXPECT_EQ(ClampOutOfRangeNumbers(text), text);
  EXPECT_EQ(ClampOutOfRangeNumbers(R"(["\\", 1e999])"), R"(["\\", 1.7976931348623157e308])");
  EXPECT_EQ(ClampOutOfRangeNumbers(std::string(5000, '9')), "1.7976931348623157e308");
}

TEST(JsonNumbersTest, OtherErrorsStillThrow) {
  EXPECT_THROW(ParseJsonClampingNumbers("{\"a\": 1e400"), nlohmann::json::parse_error);
  EXPECT_THROW(ParseJsonClampingNumbers("not json"), nlohmann::json::parse_error);
}

}  // namespace
}  // namespace pharos
