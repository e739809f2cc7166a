#include "common/address_verdict.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

AddressResult Address(std::string address, Outcome outcome, std::string message = "") {
  AddressResult result;
  result.address = std::move(address);
  result.outcome = outcome;
  result.message = std::move(message);
  return result;
}

TEST(AddressVerdictTest, AnyFailingAddressFailsWithQuorumOne) {
  const AddressVerdict verdict =
      AddressVerdict::Of({Address("127.0.0.1", Outcome::kUp),
                          Address("127.0.0.2", Outcome::kDown, "connection refused"),
                          Address("127.0.0.3", Outcome::kUp)},
                         1);
  EXPECT_EQ(verdict.outcome, Outcome::kDown);
  EXPECT_EQ(verdict.failing, 1);
  EXPECT_EQ(verdict.checked, 3);
  EXPECT_EQ(verdict.reason, "127.0.0.2: connection refused (1 of 3 addresses failing)");
}

TEST(AddressVerdictTest, QuorumAndMajority) {
  const std::vector<AddressResult> one_down = {Address("a", Outcome::kUp),
                                               Address("b", Outcome::kDown, "timeout"),
                                               Address("c", Outcome::kUp)};
  EXPECT_EQ(AddressVerdict::Of(one_down, 2).outcome, Outcome::kUp);
  EXPECT_EQ(AddressVerdict::Of(one_down, std::nullopt).outcome, Outcome::kUp);
  EXPECT_EQ(AddressVerdict::Of(one_down, std::nullopt).required, 2);
  const std::vector<AddressResult> two_down = {Address("a", Outcome::kDown, "x"),
                                               Address("b", Outcome::kDown, "y"),
                                               Address("c", Outcome::kUp)};
  const AddressVerdict majority = AddressVerdict::Of(two_down, std::nullopt);
  EXPECT_EQ(majority.outcome, Outcome::kDown);
  EXPECT_EQ(majority.reason, "a: x; b: y (2 of 3 addresses failing)");
  // A quorum above the addresses checked asks for all of them.
  EXPECT_EQ(AddressVerdict::Of(two_down, 5).outcome, Outcome::kUp);
  EXPECT_EQ(AddressVerdict::Of({Address("a", Outcome::kDown, "x")}, 5).outcome, Outcome::kDown);
}

TEST(AddressVerdictTest, ProbeErrorsCountOnNeitherSide) {
  const AddressVerdict verdict = AddressVerdict::Of(
      {Address("a", Outcome::kError, "out of sockets"), Address("b", Outcome::kDown, "refused")},
      std::nullopt);
  EXPECT_EQ(verdict.checked, 1);
  EXPECT_EQ(verdict.outcome, Outcome::kDown);
  const AddressVerdict all_errors =
      AddressVerdict::Of({Address("a", Outcome::kError, "out of sockets")}, 1);
  EXPECT_EQ(all_errors.outcome, Outcome::kError);
  EXPECT_EQ(all_errors.reason, "no address could be checked: a: out of sockets");
}

TEST(AddressVerdictTest, DegradedAndNamesAtMostThree) {
  const AddressVerdict slow =
      AddressVerdict::Of({Address("a", Outcome::kDegraded), Address("b", Outcome::kUp)}, 1);
  EXPECT_EQ(slow.outcome, Outcome::kDegraded);
  EXPECT_EQ(slow.reason, "a: degraded (1 of 2 addresses failing or slow)");
  std::vector<AddressResult> many;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    many.push_back(Address(name, Outcome::kDown, "refused"));
  }
  many[4].name = "web-1";
  EXPECT_EQ(AddressVerdict::Of(many, 1).reason,
            "a: refused; b: refused; c: refused and 2 more (5 of 5 addresses failing)");
  EXPECT_EQ(many[4].Label(), "e (web-1)");
}

}  // namespace
}  // namespace pharos
