// Fuzz target: a tcp Monitor's conversation (TcpConversation) — steps a user wrote, against
// whatever a hostile server sends. Input: the steps, one a line ("S<text>" send, "E<text>"
// expect, "R<pattern>" expectRegex, "T" startTls; a first line "+tls" starts on TLS), a NUL
// byte, then the server's bytes, cut into reads at each 0x1F byte; a last 0x1E byte closes the
// stream. The driver does what the conversation asks (sends succeed, handshakes succeed) until
// it is done, failed or waits for bytes that will not come (then its step times out).
// Invariants checked: the conversation ends (no loop without progress), steps only move
// forward, what it buffers stays within kMaxBufferedBytes, messages stay short.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "probe/tcp_conversation.h"

namespace {

using pharos::TcpConversation;
using pharos::TcpStep;

void Check(bool condition) {
  if (!condition) std::abort();
}

std::vector<TcpStep> ParseSteps(std::string_view text, bool& tls_on) {
  std::vector<TcpStep> steps;
  size_t start = 0;
  while (start <= text.size() && steps.size() < 16) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    if (line == "+tls" && steps.empty()) {
      tls_on = true;
      continue;
    }
    TcpStep step;
    step.text = std::string(line.substr(1));
    switch (line[0]) {
      case 'S':
        step.kind = TcpStep::Kind::kSend;
        break;
      case 'E':
        step.kind = TcpStep::Kind::kExpect;
        break;
      case 'R':
        step.kind = TcpStep::Kind::kExpectRegex;
        break;
      case 'T':
        step.kind = TcpStep::Kind::kStartTls;
        step.text.clear();
        break;
      default:
        continue;
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find('\0');
  bool tls_on = false;
  const std::vector<TcpStep> steps = ParseSteps(input.substr(0, separator), tls_on);
  std::string_view server =
      separator == std::string_view::npos ? std::string_view() : input.substr(separator + 1);
  const bool closes = !server.empty() && server.back() == '\x1e';
  if (closes) server.remove_suffix(1);

  TcpConversation conversation(steps, tls_on);
  size_t last_step = 0;
  bool closed = false;
  // Each pass sends, handshakes, takes a read or closes: the bound is never reached by a
  // conversation that makes progress.
  const size_t passes = 2 * steps.size() + server.size() + 4;
  for (size_t pass = 0; pass < passes; ++pass) {
    const TcpConversation::Action action = conversation.Next();
    Check(conversation.step() >= last_step && conversation.step() <= steps.size());
    last_step = conversation.step();
    switch (action) {
      case TcpConversation::Action::kSend:
        conversation.Sent();
        continue;
      case TcpConversation::Action::kStartTls:
        conversation.TlsStarted();
        continue;
      case TcpConversation::Action::kReceive: {
        Check(conversation.room() > 0);
        if (!server.empty() || (!closed && closes)) {
          if (server.empty()) {
            conversation.Closed();
            closed = true;
            continue;
          }
          const size_t cut = std::min(server.find('\x1f'), server.size());
          conversation.Received(server.substr(0, std::min(cut, conversation.room())));
          server.remove_prefix(std::min(cut + 1, server.size()));
          continue;
        }
        conversation.TimedOut();
        Check(conversation.Next() == TcpConversation::Action::kFailed);
        break;
      }
      case TcpConversation::Action::kDone:
        Check(conversation.step() == steps.size());
        break;
      case TcpConversation::Action::kFailed:
        Check(!conversation.error().empty() && conversation.error().size() < 4096);
        break;
    }
    return 0;
  }
  std::abort();  // no progress: a loop in the conversation
}
