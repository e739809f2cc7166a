#include "common/process_signals.h"

#include <initializer_list>

namespace pharos {

ProcessSignals::ProcessSignals() : waiter_(pthread_self()) {
  sigemptyset(&signals_);
  for (int number : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) {
    sigaddset(&signals_, number);
  }
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
  signal(SIGPIPE, SIG_IGN);
}

ProcessSignals::~ProcessSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

ProcessSignals::Received ProcessSignals::Wait() const {
  while (true) {
    int number = 0;
    if (sigwait(&signals_, &number) != 0) {
      continue;
    }
    switch (number) {
      case SIGINT:
        return {Kind::kStop, "SIGINT"};
      case SIGTERM:
        return {Kind::kStop, "SIGTERM"};
      case SIGHUP:
        return {Kind::kReload, "SIGHUP"};
      case SIGUSR1:
        return {Kind::kWake, "SIGUSR1"};
      default:
        break;
    }
  }
}

void ProcessSignals::Wake() const { pthread_kill(waiter_, SIGUSR1); }

}  // namespace pharos
