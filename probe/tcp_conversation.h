#pragma once

// TcpConversation: the steps of a tcp Monitor's conversation (spec.tcp.conversation) as pure
// logic, without sockets, TLS or timers: it says what to do next (send a text, receive more,
// start TLS, done, failed) and is handed what was received, so the matching is unit-tested and
// fuzzed apart from the I/O. TcpAttempt drives it.
//
// Rules:
// * Steps run in order. A send step is done when its whole text was written (Sent()).
// * An expect step consumes received lines up to the first that contains its text; an
//   expectRegex step up to the first its PCRE2 pattern matches (Regex: match limits bound
//   catastrophic patterns; hitting them fails the check). Lines end at "\n", a "\r" before it
//   is dropped; at the end of the stream (Closed()) the last unterminated line counts too.
//   Lines before the matching one are dropped; what follows it stays for the next step.
// * More than kMaxBufferedBytes received without a matching line fails the check; so does the
//   end of the stream before a line matched.
// * A startTls step drops whatever was received before it (plaintext must not pass for what the
//   server says over TLS: STARTTLS response injection) and asks for a handshake; TlsStarted()
//   moves on. A startTls step while TLS is on, and an expectRegex whose pattern does not
//   compile, are errors of the Monitor's configuration (probe_fault), not of the target.
// * Messages quote at most 80 bytes of any text, control characters escaped.
// Thread-safety: none; one owner (the attempt on the probe's loop thread).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/monitor.h"
#include "common/regex.h"

namespace pharos {

class TcpConversation {
 public:
  // Data kept from the server while an expect step waits for a line; more is an error.
  static constexpr size_t kMaxBufferedBytes = size_t{64} * 1024;

  enum class Action {
    kSend,      // write send_text(), then call Sent()
    kReceive,   // read, then call Received() (at most room() bytes) or Closed()
    kStartTls,  // do a TLS handshake on the connection, then call TlsStarted()
    kDone,      // every step passed
    kFailed,    // error() says why
  };

  // `steps` must outlive the conversation. `tls_on`: the connection is TLS from the start.
  TcpConversation(const std::vector<TcpStep>& steps, bool tls_on);

  // What to do now. Idempotent until one of the calls below is made.
  Action Next();

  // The current step (steps.size() when done).
  size_t step() const { return step_; }
  // kSend: the text to write.
  const std::string& send_text() const;
  // kReceive: the current expect step's own timeout (none: until the check's deadline).
  std::optional<Millis> step_timeout() const;
  // kReceive: how many more bytes may be handed to Received().
  size_t room() const;

  void Sent();
  void Received(std::string_view bytes);
  void Closed();
  void TlsStarted();
  // The current step's own timeout passed: the conversation fails.
  void TimedOut();

  // kFailed: why, and whether it is the configuration's fault rather than the target's.
  const std::string& error() const { return error_; }
  bool probe_fault() const { return probe_fault_; }

  // "step 2 (expect \"220\")", or "after the conversation".
  std::string StepName(size_t step) const;
  std::string CurrentStepName() const { return StepName(step_); }
  // What was received, for messages: "; received \"...\"", "; last line received \"...\"",
  // "; nothing was received" or empty.
  std::string ReceivedText() const;

 private:
  // Consumes lines of in_ up to the first that matches the current expect step.
  bool TakeMatchingLine();
  void Fail(std::string message, bool probe_fault = false);
  void Advance();

  const std::vector<TcpStep>& steps_;
  bool tls_on_;
  size_t step_ = 0;
  std::optional<Regex> regex_;  // of the current expectRegex step
  std::string in_;              // received, not yet consumed by an expect step
  std::string last_line_;       // the last whole line looked at (for messages)
  bool received_any_ = false;
  bool closed_ = false;
  bool failed_ = false;
  bool probe_fault_ = false;
  std::string error_;
};

}  // namespace pharos
