#pragma once

// ProcessSignals: the signals a Pharos process acts on, taken by one thread with sigwait instead
// of handlers: SIGINT and SIGTERM (stop), SIGHUP (reload), and SIGUSR1, which the process sends
// itself (Wake) so that the waiting thread can also wait for work of its own to finish (e.g. the
// probe's drain) while still hearing a second SIGTERM. Construct it on the main thread before
// any other thread starts: every thread inherits the blocked mask, so only the waiting thread
// receives these signals. SIGPIPE is ignored (a peer closing a socket is an error value, never
// a crash).
// Thread-safety: Wait on the constructing thread; Wake from any thread.

#include <pthread.h>
#include <signal.h>

namespace pharos {

class ProcessSignals {
 public:
  enum class Kind { kStop, kReload, kWake };
  struct Received {
    Kind kind;
    const char* name;  // "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"
  };

  ProcessSignals();
  ~ProcessSignals();  // restores the signal mask found
  ProcessSignals(const ProcessSignals&) = delete;
  ProcessSignals& operator=(const ProcessSignals&) = delete;

  // Blocks until one of the signals arrives.
  Received Wait() const;
  // Makes Wait return kWake.
  void Wake() const;

 private:
  sigset_t signals_;
  sigset_t previous_;
  pthread_t waiter_;
};

}  // namespace pharos
