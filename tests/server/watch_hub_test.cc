// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: watch_hub_test.cc
// -----------------------------------------------------------------------------
// Tests of server/src/watch_hub.cc on its own: prefixes, the bounded queue and
// its TYPE_OVERFLOW count, the edge-triggered notify (called on the hub's
// notifier thread, so the tests wait for it with a deadline), shutdown, and
// that Publish never waits for a consumer nor calls a notify that was cleared.
// Nothing waits by sleeping: every wait has a deadline.

#include "watch_hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "shmarray/v1/array_service.pb.h"

namespace shmarray::server::internal {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

v1::WatchEvent Event(const std::string& name) {
  v1::WatchEvent e;
  e.set_type(v1::WatchEvent::TYPE_CREATED);
  e.set_name(name);
  return e;
}

std::vector<std::string> Names(const std::deque<v1::WatchEvent>& events) {
  std::vector<std::string> names;
  for (const v1::WatchEvent& e : events) names.push_back(e.name());
  return names;
}

// Counts notify calls; waits for a given count with a deadline. Declared
// before the hub in each test, so that the hub's notifier thread has stopped
// before the counter goes.
class NotifyCounter {
 public:
  std::function<void()> Callback() {
    return [this] {
      absl::MutexLock lock(&mu_);
      ++count_;
    };
  }
  // Whether the count reached `n` within kWait.
  bool AwaitCount(int n) {
    absl::MutexLock lock(&mu_);
    target_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &NotifyCounter::Reached), kWait);
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }

 private:
  bool Reached() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= target_; }

  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
  int target_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(WatchHubTest, QueuesOnlyEventsUnderThePrefixInOrder) {
  WatchHub hub(16);
  std::shared_ptr<WatchHub::Watcher> w = hub.Subscribe("run1/", nullptr);
  std::shared_ptr<WatchHub::Watcher> all = hub.Subscribe("", nullptr);
  hub.Publish(Event("run1/a"));
  hub.Publish(Event("run2/a"));
  hub.Publish(Event("run1"));
  hub.Publish(Event("run1/b"));
  std::deque<v1::WatchEvent> got;
  EXPECT_TRUE(w->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"run1/a", "run1/b"}));
  got.clear();
  EXPECT_TRUE(all->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"run1/a", "run2/a", "run1", "run1/b"}));
  got.clear();
  EXPECT_TRUE(w->Take(&got));
  EXPECT_TRUE(got.empty());
  // Unsubscribed: nothing more is queued.
  hub.Unsubscribe(w);
  hub.Publish(Event("run1/c"));
  EXPECT_TRUE(w->Take(&got));
  EXPECT_TRUE(got.empty());
}

TEST(WatchHubTest, AFullQueueDropsAndCountsThenOneOverflowEventFollows) {
  WatchHub hub(3);
  std::shared_ptr<WatchHub::Watcher> w = hub.Subscribe("", nullptr);
  for (int i = 0; i < 10; ++i) hub.Publish(Event("e" + std::to_string(i)));
  std::deque<v1::WatchEvent> got;
  ASSERT_TRUE(w->Take(&got));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(Names({got.begin(), got.begin() + 3}), (std::vector<std::string>{"e0", "e1", "e2"}));
  EXPECT_EQ(got[3].type(), v1::WatchEvent::TYPE_OVERFLOW);
  EXPECT_EQ(got[3].dropped(), 7);
  EXPECT_GT(got[3].unix_ns(), 0);
  // The count starts over; the queue has room again.
  got.clear();
  hub.Publish(Event("e10"));
  ASSERT_TRUE(w->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"e10"}));
}

TEST(WatchHubTest, ZeroCapacityKeepsOneEvent) {
  WatchHub hub(0);
  std::shared_ptr<WatchHub::Watcher> w = hub.Subscribe("", nullptr);
  hub.Publish(Event("a"));
  hub.Publish(Event("b"));
  std::deque<v1::WatchEvent> got;
  ASSERT_TRUE(w->Take(&got));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].name(), "a");
  EXPECT_EQ(got[1].dropped(), 1);
}

// Notify is edge-triggered: once after a Take that found nothing, for the
// next event; not while the consumer has not come back for more.
TEST(WatchHubTest, NotifiesOnceAfterATakeThatFoundNothing) {
  NotifyCounter notified;
  WatchHub hub(16);
  std::shared_ptr<WatchHub::Watcher> w = hub.Subscribe("n/", notified.Callback());
  std::deque<v1::WatchEvent> got;
  // Not waiting yet (no Take): events queue silently.
  hub.Publish(Event("n/0"));
  ASSERT_TRUE(w->Take(&got));
  EXPECT_EQ(got.size(), 1u);
  got.clear();
  ASSERT_TRUE(w->Take(&got));  // found nothing: waiting
  EXPECT_TRUE(got.empty());
  hub.Publish(Event("other/0"));  // not under the prefix
  hub.Publish(Event("n/1"));
  hub.Publish(Event("n/2"));
  ASSERT_TRUE(notified.AwaitCount(1));
  ASSERT_TRUE(w->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"n/1", "n/2"}));
  got.clear();
  ASSERT_TRUE(w->Take(&got));  // waiting again
  EXPECT_TRUE(got.empty());
  hub.Publish(Event("n/3"));
  ASSERT_TRUE(notified.AwaitCount(2));
  // Taken while not waiting: n/4 brings no call.
  ASSERT_TRUE(w->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"n/3"}));
  hub.Publish(Event("n/4"));
  got.clear();
  ASSERT_TRUE(w->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"n/4"}));
  EXPECT_EQ(notified.count(), 2);
}

TEST(WatchHubTest, ShutdownNotifiesAndEndsAfterWhatWasQueued) {
  NotifyCounter notified;
  WatchHub hub(16);
  std::shared_ptr<WatchHub::Watcher> waiting = hub.Subscribe("", notified.Callback());
  std::shared_ptr<WatchHub::Watcher> busy = hub.Subscribe("", nullptr);
  std::deque<v1::WatchEvent> got;
  ASSERT_TRUE(waiting->Take(&got));  // waiting
  hub.Publish(Event("a"));
  ASSERT_TRUE(notified.AwaitCount(1));
  hub.Shutdown();
  // The waiting watcher took nothing since its notify: the shutdown does not
  // call it again; its Take sees the end with the queued event.
  EXPECT_FALSE(waiting->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"a"}));
  got.clear();
  EXPECT_FALSE(busy->Take(&got));
  EXPECT_EQ(Names(got), (std::vector<std::string>{"a"}));

  // A watcher waiting when the hub shuts down is notified.
  NotifyCounter notified2;
  WatchHub hub2(16);
  std::shared_ptr<WatchHub::Watcher> w2 = hub2.Subscribe("", notified2.Callback());
  got.clear();
  ASSERT_TRUE(w2->Take(&got));
  hub2.Shutdown();
  ASSERT_TRUE(notified2.AwaitCount(1));
  EXPECT_FALSE(w2->Take(&got));
  EXPECT_TRUE(got.empty());
  // One subscribed after the shutdown is born closed.
  std::shared_ptr<WatchHub::Watcher> late = hub2.Subscribe("", nullptr);
  EXPECT_FALSE(late->Take(&got));
}

// A notify that does not return (a consumer stuck for any reason) never
// holds up Publish: notify runs on the hub's own thread.
TEST(WatchHubTest, PublishNeverWaitsForASlowNotify) {
  absl::Notification entered;
  absl::Notification release;
  std::atomic<bool> released_in_time{true};
  WatchHub hub(4);
  std::shared_ptr<WatchHub::Watcher> w = hub.Subscribe("", [&] {
    entered.Notify();
    if (!release.WaitForNotificationWithTimeout(kWait)) released_in_time = false;
  });
  std::deque<v1::WatchEvent> got;
  ASSERT_TRUE(w->Take(&got));
  hub.Publish(Event("first"));
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kWait));
  // The notify is blocked now; publishing goes on (and drops past 4).
  for (int i = 0; i < 100; ++i) hub.Publish(Event("more"));
  release.Notify();
  EXPECT_TRUE(released_in_time) << "Publish waited for the notify";
  ASSERT_TRUE(w->Take(&got));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4].dropped(), 97);
  w->ClearNotify();
}

// ClearNotify waits for a notify that is running and stops the later ones,
// while another thread keeps publishing: what a Watch stream's end relies on
// before it deletes itself.
TEST(WatchHubTest, ClearNotifyWaitsForARunningNotifyAndStopsLaterOnes) {
  WatchHub hub(1024);
  for (int round = 0; round < 50; ++round) {
    struct State {
      std::shared_ptr<WatchHub::Watcher> watcher;
      std::atomic<bool> inside{false};
      std::atomic<bool> cleared{false};
      std::atomic<int> calls_after_clear{0};
    };
    auto state = std::make_shared<State>();
    state->watcher = hub.Subscribe("", [s = state.get()] {
      if (s->cleared) ++s->calls_after_clear;
      s->inside = true;
      std::deque<v1::WatchEvent> events;
      (void)s->watcher->Take(&events);  // as a consumer does: waiting again
      s->inside = false;
    });
    std::deque<v1::WatchEvent> got;
    ASSERT_TRUE(state->watcher->Take(&got));
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
      for (int i = 0; i < 10000 && !stop; ++i) hub.Publish(Event("x"));
    });
    state->watcher->ClearNotify();
    EXPECT_FALSE(state->inside) << "round " << round;
    state->cleared = true;
    stop = true;
    publisher.join();
    hub.Unsubscribe(state->watcher);
    EXPECT_EQ(state->calls_after_clear, 0) << "round " << round;
  }
}

}  // namespace
}  // namespace shmarray::server::internal
