#include "common/process_signals.h"

#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <thread>

namespace pharos {
namespace {

TEST(ProcessSignalsTest, TellsStopReloadAndWakeApart) {
  const ProcessSignals signals;
  std::thread sender([&] { signals.Wake(); });
  EXPECT_EQ(signals.Wait().kind, ProcessSignals::Kind::kWake);
  sender.join();

  // raise() sends to this thread alone (POSIX, for a multi-threaded process), where the signals
  // are blocked, so each waits for sigwait.
  raise(SIGHUP);
  const ProcessSignals::Received reload = signals.Wait();
  EXPECT_EQ(reload.kind, ProcessSignals::Kind::kReload);
  EXPECT_EQ(std::string(reload.name), "SIGHUP");

  raise(SIGTERM);
  const ProcessSignals::Received stop = signals.Wait();
  EXPECT_EQ(stop.kind, ProcessSignals::Kind::kStop);
  EXPECT_EQ(std::string(stop.name), "SIGTERM");
}

}  // namespace
}  // namespace pharos
