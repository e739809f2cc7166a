// TcpConversation alone: the rules of a conversation (docs in probe/tcp_conversation.h) on
// bytes handed in by the test, without sockets. tcp_conversation_test.cpp runs whole
// conversations through the CheckEngine against a loopback server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "probe/tcp_conversation.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;
using Action = TcpConversation::Action;

TcpStep Send(std::string text) { return {TcpStep::Kind::kSend, std::move(text), std::nullopt}; }
TcpStep Expect(std::string text, std::optional<Millis> timeout = std::nullopt) {
  return {TcpStep::Kind::kExpect, std::move(text), timeout};
}
TcpStep ExpectRegex(std::string pattern) {
  return {TcpStep::Kind::kExpectRegex, std::move(pattern), std::nullopt};
}
TcpStep StartTls() { return {TcpStep::Kind::kStartTls, "", std::nullopt}; }

TEST(TcpConversationRulesTest, AnEmptyConversationIsDoneAtOnce) {
  const std::vector<TcpStep> steps;
  TcpConversation conversation(steps, false);
  EXPECT_EQ(conversation.Next(), Action::kDone);
}

TEST(TcpConversationRulesTest, SendsThenWaitsForTheExpectedLine) {
  const std::vector<TcpStep> steps = {Send("PING\r\n"), Expect("+PONG")};
  TcpConversation conversation(steps, false);
  ASSERT_EQ(conversation.Next(), Action::kSend);
  EXPECT_EQ(conversation.send_text(), "PING\r\n");
  EXPECT_EQ(conversation.Next(), Action::kSend) << "Next() is idempotent until Sent()";
  conversation.Sent();
  ASSERT_EQ(conversation.Next(), Action::kReceive);
  conversation.Received("+PO");
  EXPECT_EQ(conversation.Next(), Action::kReceive) << "no whole line yet";
  conversation.Received("NG\r\n");
  EXPECT_EQ(conversation.Next(), Action::kDone);
  EXPECT_EQ(conversation.step(), 2u);
}

TEST(TcpConversationRulesTest, SkipsLinesThatDoNotMatchAndKeepsWhatFollowsForTheNextStep) {
  const std::vector<TcpStep> steps = {Expect("220"), Expect("250")};
  TcpConversation conversation(steps, false);
  conversation.Received("hello\n220 ready\n250 ok\n");
  EXPECT_EQ(conversation.Next(), Action::kDone);
}

TEST(TcpConversationRulesTest, MatchesRegularExpressionsPerLine) {
  const std::vector<TcpStep> steps = {ExpectRegex("^SSH-2\\.0-\\S+$")};
  TcpConversation conversation(steps, false);
  conversation.Received("SSH-1.99-old\r\n");
  EXPECT_EQ(conversation.Next(), Action::kReceive);
  conversation.Received("SSH-2.0-OpenSSH_9.2\r\n");
  EXPECT_EQ(conversation.Next(), Action::kDone);
}

TEST(TcpConversationRulesTest, TheLastUnterminatedLineCountsAtTheEndOfTheStream) {
  const std::vector<TcpStep> steps = {Expect("bye")};
  TcpConversation conversation(steps, false);
  conversation.Received("good bye");
  EXPECT_EQ(conversation.Next(), Action::kReceive);
  conversation.Closed();
  EXPECT_EQ(conversation.Next(), Action::kDone);
}

TEST(TcpConversationRulesTest, TheEndOfTheStreamBeforeAMatchFailsWithTheLastLine) {
  const std::vector<TcpStep> steps = {Expect("220")};
  TcpConversation conversation(steps, false);
  conversation.Received("554 go away\r\n");
  conversation.Closed();
  ASSERT_EQ(conversation.Next(), Action::kFailed);
  EXPECT_EQ(conversation.error(),
            "connection closed by the server before step 1 (expect \"220\") matched; last line "
            "received \"554 go away\"");
  EXPECT_FALSE(conversation.probe_fault());
}

TEST(TcpConversationRulesTest, NothingReceivedIsSaid) {
  const std::vector<TcpStep> steps = {Expect("220", Millis(2'000))};
  TcpConversation conversation(steps, false);
  ASSERT_EQ(conversation.Next(), Action::kReceive);
  EXPECT_EQ(conversation.step_timeout(), Millis(2'000));
  conversation.TimedOut();
  ASSERT_EQ(conversation.Next(), Action::kFailed);
  EXPECT_EQ(conversation.error(),
            "no line matched step 1 (expect \"220\") within 2s; nothing was received");
}

TEST(TcpConversationRulesTest, BoundsWhatItBuffersWithoutAMatchingLine) {
  const std::vector<TcpStep> steps = {Expect("never")};
  TcpConversation conversation(steps, false);
  const std::string chunk(4096, 'x');  // no newline: one growing line
  while (conversation.Next() == Action::kReceive) {
    ASSERT_GT(conversation.room(), 0u);
    conversation.Received(chunk);
  }
  ASSERT_EQ(conversation.Next(), Action::kFailed);
  EXPECT_THAT(conversation.error(), HasSubstr("more than 64 KiB received without a line matching"));
  EXPECT_EQ(conversation.room(), 0u);
}

TEST(TcpConversationRulesTest, StartTlsDropsPlaintextReceivedAheadOfTheHandshake) {
  const std::vector<TcpStep> steps = {Send("STARTTLS\r\n"), Expect("220"), StartTls(),
                                      Expect("250")};
  TcpConversation conversation(steps, false);
  conversation.Sent();
  // The server (or a man in the middle) answers ahead of the handshake: 250 must not count.
  conversation.Received("220 go ahead\r\n250 injected\r\n");
  ASSERT_EQ(conversation.Next(), Action::kStartTls);
  conversation.TlsStarted();
  ASSERT_EQ(conversation.Next(), Action::kReceive) << "the injected 250 was dropped";
  conversation.Received("250 ok\r\n");
  EXPECT_EQ(conversation.Next(), Action::kDone);
}

TEST(TcpConversationRulesTest, StartTlsWhileTlsIsOnIsAConfigurationError) {
  const std::vector<TcpStep> steps = {StartTls()};
  TcpConversation conversation(steps, /*tls_on=*/true);
  ASSERT_EQ(conversation.Next(), Action::kFailed);
  EXPECT_EQ(conversation.error(), "step 1 (startTls): TLS is already on");
  EXPECT_TRUE(conversation.probe_fault());
}

TEST(TcpConversationRulesTest, AnInvalidPatternIsAConfigurationError) {
  const std::vector<TcpStep> steps = {ExpectRegex("(unclosed")};
  TcpConversation conversation(steps, false);
  ASSERT_EQ(conversation.Next(), Action::kFailed);
  EXPECT_THAT(conversation.error(),
              HasSubstr("step 1 (expectRegex \"(unclosed\"): invalid regular expression"));
  EXPECT_TRUE(conversation.probe_fault());
}

TEST(TcpConversationRulesTest, ACatastrophicPatternFailsTheCheckInsteadOfHanging) {
  const std::vector<TcpStep> steps = {ExpectRegex("^(a+)+$")};
  TcpConversation conversation(steps, false);
  conversation.Received(std::string(40'000, 'a') + "b\n");
  const Action action = conversation.Next();
  // PCRE2's limits either find no match quickly or stop the search: never a hang, never Done.
  EXPECT_NE(action, Action::kDone);
  if (action == Action::kFailed) {
    EXPECT_FALSE(conversation.probe_fault()) << conversation.error();
  }
}

TEST(TcpConversationRulesTest, MessagesQuoteAtMost80BytesWithControlCharactersEscaped) {
  const std::vector<TcpStep> steps = {Expect("ok")};
  TcpConversation conversation(steps, false);
  conversation.Received(std::string(500, 'z') + "\x01");
  conversation.Closed();
  ASSERT_EQ(conversation.Next(), Action::kFailed);
  EXPECT_LT(conversation.error().size(), 250u);
  EXPECT_EQ(conversation.error().find('\x01'), std::string::npos);
}

TEST(TcpConversationRulesTest, NamesItsSteps) {
  const std::vector<TcpStep> steps = {Send("a"), Expect("b"), ExpectRegex("c"), StartTls()};
  TcpConversation conversation(steps, false);
  EXPECT_EQ(conversation.StepName(0), "step 1 (send \"a\")");
  EXPECT_EQ(conversation.StepName(1), "step 2 (expect \"b\")");
  EXPECT_EQ(conversation.StepName(2), "step 3 (expectRegex \"c\")");
  EXPECT_EQ(conversation.StepName(3), "step 4 (startTls)");
  EXPECT_EQ(conversation.StepName(4), "after the conversation");
}

}  // namespace
}  // namespace pharos
