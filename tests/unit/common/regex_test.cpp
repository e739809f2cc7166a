#include "common/regex.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

TEST(RegexTest, Matches) {
  Result<Regex> regex = Regex::Compile(R"re("status"\s*:\s*"(ok|up)")re");
  ASSERT_TRUE(regex.ok()) << regex.error();
  EXPECT_EQ(regex->pattern(), R"re("status"\s*:\s*"(ok|up)")re");
  Result<bool> hit = regex->Search(R"({"status": "ok"})");
  ASSERT_TRUE(hit.ok());
  EXPECT_TRUE(*hit);
  Result<bool> miss = regex->Search(R"({"status": "down"})");
  ASSERT_TRUE(miss.ok());
  EXPECT_FALSE(*miss);
}

TEST(RegexTest, SearchesAnywhereUnlessAnchored) {
  Result<Regex> anywhere = Regex::Compile("b+");
  Result<Regex> anchored = Regex::Compile("^b+$");
  ASSERT_TRUE(anywhere.ok() && anchored.ok());
  EXPECT_TRUE(*anywhere->Search("aaabbbccc"));
  EXPECT_FALSE(*anchored->Search("aaabbbccc"));
  EXPECT_TRUE(*anchored->Search("bbb"));
}

TEST(RegexTest, EmptyPatternAndEmptyText) {
  Result<Regex> empty = Regex::Compile("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(*empty->Search(""));
  Result<Regex> something = Regex::Compile("x");
  ASSERT_TRUE(something.ok());
  EXPECT_FALSE(*something->Search(std::string_view()));
}

TEST(RegexTest, ArbitraryBytesAreFine) {
  Result<Regex> regex = Regex::Compile("\xff\xfe.");
  ASSERT_TRUE(regex.ok()) << regex.error();
  const std::string body("head\0\xff\xfe\x80tail", 12);
  EXPECT_TRUE(*regex->Search(body));
  // A (*UTF) verb cannot switch on UTF-8 checking of untrusted bodies.
  Result<Regex> utf = Regex::Compile("(*UTF)a");
  ASSERT_FALSE(utf.ok());
  EXPECT_NE(utf.error().find("UTF"), std::string::npos) << utf.error();
}

TEST(RegexTest, CompileErrorNamesProblemAndOffset) {
  Result<Regex> regex = Regex::Compile("(ab");
  ASSERT_FALSE(regex.ok());
  EXPECT_EQ(regex.error(), "missing closing parenthesis at offset 3");
  Result<Regex> quantifier = Regex::Compile("a{2,1}");
  ASSERT_FALSE(quantifier.ok());
  EXPECT_EQ(quantifier.error(), "numbers out of order in {} quantifier at offset 5");
}

TEST(RegexTest, CatastrophicBacktrackingIsAnErrorNotAHang) {
  Result<Regex> regex = Regex::Compile("(a+)+$");
  ASSERT_TRUE(regex.ok());
  const std::string text = std::string(100'000, 'a') + "b";
  Result<bool> result = regex->Search(text);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().find("regular expression gave up"), std::string::npos) << result.error();
}

TEST(RegexTest, CopiesShareTheCompiledPattern) {
  Result<Regex> regex = Regex::Compile("a.c");
  ASSERT_TRUE(regex.ok());
  const Regex copy = *regex;
  EXPECT_TRUE(*copy.Search("xxabcxx"));
  EXPECT_TRUE(*regex->Search("xxabcxx"));
}

}  // namespace
}  // namespace pharos
