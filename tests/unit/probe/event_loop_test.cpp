#include "probe/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace pharos {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<EventLoop> MakeLoop() {
  auto loop = EventLoop::Create();
  EXPECT_TRUE(loop.ok());
  return std::move(loop).value();
}

// Runs rounds until `done` holds or 5 s passed.
template <typename Predicate>
bool RunUntil(EventLoop& loop, Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done() && std::chrono::steady_clock::now() < deadline) loop.RunOnce(milliseconds(50));
  return done();
}

TEST(EventLoopTest, TimersFireInOrderAndCanBeCancelled) {
  auto loop = MakeLoop();
  std::vector<int> fired;
  const auto now = loop->Now();
  loop->AddTimer(now + milliseconds(30), [&] { fired.push_back(3); });
  loop->AddTimer(now + milliseconds(10), [&] { fired.push_back(1); });
  const auto cancelled = loop->AddTimer(now + milliseconds(20), [&] { fired.push_back(2); });
  loop->CancelTimer(cancelled);
  loop->CancelTimer(cancelled);  // twice is harmless
  ASSERT_TRUE(RunUntil(*loop, [&] { return fired.size() == 2; }));
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_EQ(loop->timer_count(), 0u);
}

TEST(EventLoopTest, PostedTasksRunAfterTheRoundIncludingNestedPosts) {
  auto loop = MakeLoop();
  std::vector<int> order;
  loop->Post([&] {
    order.push_back(1);
    loop->Post([&] { order.push_back(3); });
  });
  loop->Post([&] { order.push_back(2); });
  loop->RunOnce(milliseconds(1000));  // returns at once: tasks are pending
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoopTest, WatchesDeliverReadinessAndUnwatchStops) {
  auto loop = MakeLoop();
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  int readable = 0;
  ASSERT_TRUE(loop->Watch(pair[0], EPOLLIN,
                          [&](uint32_t events) {
                            if (events & EPOLLIN) {
                              char buffer[16];
                              while (read(pair[0], buffer, sizeof(buffer)) > 0) {
                              }
                              ++readable;
                            }
                          })
                  .ok());
  ASSERT_EQ(write(pair[1], "x", 1), 1);
  ASSERT_TRUE(RunUntil(*loop, [&] { return readable == 1; }));
  loop->Unwatch(pair[0]);
  EXPECT_FALSE(loop->Watching(pair[0]));
  ASSERT_EQ(write(pair[1], "y", 1), 1);
  loop->RunOnce(milliseconds(50));
  EXPECT_EQ(readable, 1);
  close(pair[0]);
  close(pair[1]);
}

TEST(EventLoopTest, HandlerMayReplaceOrRemoveItself) {
  auto loop = MakeLoop();
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  int calls = 0;
  ASSERT_TRUE(loop->Watch(pair[0], EPOLLOUT,
                          [&](uint32_t) {
                            ++calls;
                            loop->Unwatch(
                                pair[0]);  // destroys this handler's registration mid-call
                          })
                  .ok());
  ASSERT_TRUE(RunUntil(*loop, [&] { return calls == 1; }));
  EXPECT_FALSE(loop->Watching(pair[0]));
  close(pair[0]);
  close(pair[1]);
}

TEST(EventLoopTest, WakeFromAnotherThreadEndsTheWait) {
  auto loop = MakeLoop();
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(20));
    loop->Wake();
  });
  const auto started = std::chrono::steady_clock::now();
  // Without the wake this would wait 30 s; with it the call returns (any time well below).
  loop->RunOnce(milliseconds(30000));
  waker.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
}

}  // namespace
}  // namespace pharos
