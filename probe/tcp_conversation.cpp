#include "probe/tcp_conversation.h"

#include <algorithm>
#include <utility>

#include "common/duration.h"
#include "probe/error_text.h"

namespace pharos {
namespace {

constexpr size_t kShownText = 80;
constexpr size_t kKeptLine = 1024;

std::string Quoted(std::string_view text) { return "\"" + SanitizeText(text, kShownText) + "\""; }

}  // namespace

TcpConversation::TcpConversation(const std::vector<TcpStep>& steps, bool tls_on)
    : steps_(steps), tls_on_(tls_on) {}

TcpConversation::Action TcpConversation::Next() {
  while (!failed_ && step_ < steps_.size()) {
    const TcpStep& step = steps_[step_];
    switch (step.kind) {
      case TcpStep::Kind::kSend:
        return Action::kSend;
      case TcpStep::Kind::kExpect:
      case TcpStep::Kind::kExpectRegex: {
        if (step.kind == TcpStep::Kind::kExpectRegex && !regex_) {
          Result<Regex> compiled = Regex::Compile(step.text);
          if (!compiled.ok()) {
            Fail(CurrentStepName() + ": invalid regular expression: " + compiled.error(), true);
            break;
          }
          regex_ = std::move(compiled).value();
        }
        if (TakeMatchingLine()) {
          Advance();
          break;
        }
        if (failed_) break;
        if (closed_) {
          Fail("connection closed by the server before " + CurrentStepName() + " matched" +
               ReceivedText());
        } else if (in_.size() >= kMaxBufferedBytes) {
          Fail("more than " + std::to_string(kMaxBufferedBytes / 1024) +
               " KiB received without a line matching " + CurrentStepName());
        } else {
          return Action::kReceive;
        }
        break;
      }
      case TcpStep::Kind::kStartTls:
        if (tls_on_) {
          Fail(CurrentStepName() + ": TLS is already on", true);
          break;
        }
        in_.clear();
        return Action::kStartTls;
    }
  }
  return failed_ ? Action::kFailed : Action::kDone;
}

const std::string& TcpConversation::send_text() const {
  static const std::string kNone;
  return step_ < steps_.size() && steps_[step_].kind == TcpStep::Kind::kSend ? steps_[step_].text
                                                                             : kNone;
}

std::optional<Millis> TcpConversation::step_timeout() const {
  return step_ < steps_.size() ? steps_[step_].timeout : std::nullopt;
}

size_t TcpConversation::room() const {
  return in_.size() < kMaxBufferedBytes ? kMaxBufferedBytes - in_.size() : 0;
}

void TcpConversation::Sent() {
  if (!failed_ && step_ < steps_.size() && steps_[step_].kind == TcpStep::Kind::kSend) {
    Advance();
  }
}

void TcpConversation::Received(std::string_view bytes) {
  if (bytes.empty() || failed_) return;
  received_any_ = true;
  in_.append(bytes.substr(0, room()));
}

void TcpConversation::Closed() { closed_ = true; }

void TcpConversation::TlsStarted() {
  tls_on_ = true;
  if (!failed_ && step_ < steps_.size() && steps_[step_].kind == TcpStep::Kind::kStartTls) {
    Advance();
  }
}

void TcpConversation::TimedOut() {
  const std::optional<Millis> timeout = step_timeout();
  Fail("no line matched " + CurrentStepName() +
       (timeout ? " within " + FormatDuration(*timeout) : std::string()) + ReceivedText());
}

std::string TcpConversation::StepName(size_t step) const {
  if (step >= steps_.size()) return "after the conversation";
  const TcpStep& current = steps_[step];
  std::string name = "step " + std::to_string(step + 1) + " (";
  switch (current.kind) {
    case TcpStep::Kind::kSend:
      name += "send " + Quoted(current.text);
      break;
    case TcpStep::Kind::kExpect:
      name += "expect " + Quoted(current.text);
      break;
    case TcpStep::Kind::kExpectRegex:
      name += "expectRegex " + Quoted(current.text);
      break;
    case TcpStep::Kind::kStartTls:
      name += "startTls";
      break;
  }
  return name + ")";
}

std::string TcpConversation::ReceivedText() const {
  if (!in_.empty()) return "; received " + Quoted(in_);
  if (!last_line_.empty()) return "; last line received " + Quoted(last_line_);
  return received_any_ ? "" : "; nothing was received";
}

bool TcpConversation::TakeMatchingLine() {
  const TcpStep& step = steps_[step_];
  size_t start = 0;
  bool matched = false;
  while (!matched) {
    const size_t newline = in_.find('\n', start);
    std::string_view line;
    size_t next = 0;
    if (newline == std::string::npos) {
      if (!closed_ || start >= in_.size()) break;
      line = std::string_view(in_).substr(start);  // the last, unterminated line
      next = in_.size();
    } else {
      line = std::string_view(in_).substr(start, newline - start);
      next = newline + 1;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    last_line_ = std::string(line.substr(0, kKeptLine));
    if (step.kind == TcpStep::Kind::kExpect) {
      matched = line.find(step.text) != std::string_view::npos;
    } else {
      Result<bool> found = regex_->Search(line);
      if (!found.ok()) {
        Fail(CurrentStepName() + ": " + found.error());
        return false;
      }
      matched = *found;
    }
    start = next;
  }
  in_.erase(0, start);
  return matched;
}

void TcpConversation::Fail(std::string message, bool probe_fault) {
  if (failed_) return;
  failed_ = true;
  probe_fault_ = probe_fault;
  error_ = std::move(message);
}

void TcpConversation::Advance() {
  regex_.reset();
  ++step_;
}

}  // namespace pharos
