#include "common/process_signals.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace pharos {
namespace {

TEST(ProcessSignalsTest, TellsStopReloadAndWakeApart) {
  const ProcessSignals signals;
  std::thread sender([&] { signals.Wake(); });
  EXPECT_EQ(signals.Wait().kind, ProcessSignals::Kind::kWake);
  sender.join();

  // Blocked in this thread, so a signal sent to the thread waits for sigwait.
  pthread_kill(pthread_self(), SIGHUP);
  const ProcessSignals::Received reload = signals.Wait();
  EXPECT_EQ(reload.kind, ProcessSignals::Kind::kReload);
  EXPECT_EQ(std::string(reload.name), "SIGHUP");

  pthread_kill(pthread_self(), SIGTERM);
  const ProcessSignals::Received stop = signals.Wait();
  EXPECT_EQ(stop.kind, ProcessSignals::Kind::kStop);
  EXPECT_EQ(std::string(stop.name), "SIGTERM");
}

}  // namespace
}  // namespace pharos
