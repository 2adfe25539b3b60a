#include "routing/pending_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::routing {
namespace {

using Lines = std::vector<std::string>;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr Clock::duration kTtl = milliseconds(5000);
constexpr size_t kMaxPerTarget = 3;
const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

class PendingQueueTest : public testing::Test {
 protected:
  // Queues a frame whose body is `body`, accepted at `at`.
  bool Push(std::string_view target, std::string_view from, std::string_view body,
            Clock::time_point at = kT0) {
    protocol::Frame frame;
    frame.Append(body);
    return queue_.Push(target, from, RoutedFrame{std::move(frame), at}, at);
  }

  // Takes the frames waiting for `target`, as "<from>:<body>".
  Lines Take(std::string_view target) {
    Lines frames;
    for (const PendingQueue::Item& item : queue_.Take(target)) {
      frames.push_back(item.from + ":" + std::string(item.frame.frame.body()));
    }
    return frames;
  }

  // Expires at `now`; returns the calls to on_expired, as "<from>-><target> x<dropped>".
  Lines Expire(Clock::time_point now) {
    Lines calls;
    queue_.Expire(now, [&](std::string_view from, std::string_view target, size_t dropped) {
      calls.push_back(std::string(from) + "->" + std::string(target) + " x" +
                      std::to_string(dropped));
    });
    return calls;
  }

  PendingQueue queue_{kTtl, kMaxPerTarget};
};

TEST_F(PendingQueueTest, StartsEmpty) {
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_EQ(Take("bob"), Lines{});
}

TEST_F(PendingQueueTest, TakeReturnsFramesOldestFirst) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  ASSERT_TRUE(Push("bob", "carol", "2", kT0 + milliseconds(1)));
  ASSERT_TRUE(Push("bob", "alice", "3", kT0 + milliseconds(2)));
  EXPECT_EQ(queue_.size(), 3u);
  EXPECT_EQ(Take("bob"), (Lines{"alice:1", "carol:2", "alice:3"}));
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_EQ(Take("bob"), Lines{});
}

TEST_F(PendingQueueTest, ItemsCarryFrameTimeAndDeadline) {
  ASSERT_TRUE(Push("bob", "alice", "1", kT0 + milliseconds(7)));
  const std::deque<PendingQueue::Item> items = queue_.Take("bob");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].from, "alice");
  EXPECT_EQ(items[0].frame.accepted_at, kT0 + milliseconds(7));
  EXPECT_EQ(items[0].deadline, kT0 + milliseconds(7) + kTtl);
}

TEST_F(PendingQueueTest, TakeOfUnknownTargetIsEmptyAndLeavesOthers) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  EXPECT_EQ(Take("dave"), Lines{});
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(Take("bob"), (Lines{"alice:1"}));
}

TEST_F(PendingQueueTest, TargetsHaveSeparateQueues) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  ASSERT_TRUE(Push("dave", "alice", "2"));
  ASSERT_TRUE(Push("bob", "alice", "3"));
  EXPECT_EQ(Take("dave"), (Lines{"alice:2"}));
  EXPECT_EQ(queue_.size(), 2u);
  EXPECT_EQ(Take("bob"), (Lines{"alice:1", "alice:3"}));
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(PendingQueueTest, RefusesFramesPastMaxPerTarget) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Push("bob", "alice", std::to_string(i)));
  EXPECT_FALSE(Push("bob", "carol", "refused"));
  EXPECT_EQ(queue_.size(), 3u);
  EXPECT_TRUE(Push("dave", "alice", "other target"));
  EXPECT_EQ(queue_.size(), 4u);
  EXPECT_EQ(Take("bob"), (Lines{"alice:0", "alice:1", "alice:2"}));
  EXPECT_TRUE(Push("bob", "alice", "room again"));
  EXPECT_EQ(Take("bob"), (Lines{"alice:room again"}));
}

TEST_F(PendingQueueTest, NothingExpiresBeforeTheDeadline) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  EXPECT_EQ(Expire(kT0), Lines{});
  EXPECT_EQ(Expire(kT0 + kTtl - nanoseconds(1)), Lines{});
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(Take("bob"), (Lines{"alice:1"}));
}

TEST_F(PendingQueueTest, ExpiresAtTheDeadline) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  EXPECT_EQ(Expire(kT0 + kTtl), (Lines{"alice->bob x1"}));
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_EQ(Take("bob"), Lines{});
  EXPECT_EQ(Expire(kT0 + 2 * kTtl), Lines{});
}

TEST_F(PendingQueueTest, ExpiryDropsLaterFramesFromTheSameSenderOnly) {
  ASSERT_TRUE(Push("bob", "alice", "a1"));
  ASSERT_TRUE(Push("bob", "carol", "c1", kT0 + milliseconds(1000)));
  ASSERT_TRUE(Push("bob", "alice", "a2", kT0 + milliseconds(2000)));
  EXPECT_EQ(Expire(kT0 + kTtl), (Lines{"alice->bob x2"}));
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(Take("bob"), (Lines{"carol:c1"}));
}

TEST_F(PendingQueueTest, OtherSendersExpireAtTheirOwnDeadline) {
  ASSERT_TRUE(Push("bob", "alice", "a1"));
  ASSERT_TRUE(Push("bob", "carol", "c1", kT0 + milliseconds(1000)));
  EXPECT_EQ(Expire(kT0 + kTtl), (Lines{"alice->bob x1"}));
  EXPECT_EQ(Expire(kT0 + kTtl + milliseconds(999)), Lines{});
  EXPECT_EQ(Expire(kT0 + kTtl + milliseconds(1000)), (Lines{"carol->bob x1"}));
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(PendingQueueTest, SeveralSendersExpireInOneCallInQueueOrder) {
  ASSERT_TRUE(Push("bob", "alice", "a1"));
  ASSERT_TRUE(Push("bob", "carol", "c1", kT0 + milliseconds(1)));
  ASSERT_TRUE(Push("bob", "alice", "a2", kT0 + milliseconds(2)));
  EXPECT_EQ(Expire(kT0 + 2 * kTtl), (Lines{"alice->bob x2", "carol->bob x1"}));
  EXPECT_EQ(queue_.size(), 0u);
}

TEST_F(PendingQueueTest, EachTargetIsNotifiedSeparately) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  ASSERT_TRUE(Push("dave", "alice", "2"));
  ASSERT_TRUE(Push("dave", "alice", "3"));
  ASSERT_TRUE(Push("erin", "alice", "4", kT0 + milliseconds(1)));
  Lines calls = Expire(kT0 + kTtl);
  std::sort(calls.begin(), calls.end());  // targets expire in no particular order
  EXPECT_EQ(calls, (Lines{"alice->bob x1", "alice->dave x2"}));
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(Take("erin"), (Lines{"alice:4"}));
}

TEST_F(PendingQueueTest, FramesQueuedAfterAnExpiryStartANewEpisode) {
  ASSERT_TRUE(Push("bob", "alice", "1"));
  EXPECT_EQ(Expire(kT0 + kTtl), (Lines{"alice->bob x1"}));
  ASSERT_TRUE(Push("bob", "alice", "2", kT0 + kTtl));
  EXPECT_EQ(Expire(kT0 + kTtl), Lines{});
  EXPECT_EQ(Expire(kT0 + 2 * kTtl), (Lines{"alice->bob x1"}));
}

TEST_F(PendingQueueTest, ExpiryFreesRoomInTheTargetQueue) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Push("bob", "alice", std::to_string(i)));
  ASSERT_FALSE(Push("bob", "alice", "full"));
  EXPECT_EQ(Expire(kT0 + kTtl), (Lines{"alice->bob x3"}));
  EXPECT_TRUE(Push("bob", "alice", "fits", kT0 + kTtl));
  EXPECT_EQ(queue_.size(), 1u);
}

TEST_F(PendingQueueTest, UsesItsOwnTtl) {
  PendingQueue queue(milliseconds(10), 1);
  ASSERT_TRUE(queue.Push("bob", "alice", RoutedFrame{protocol::Frame(), kT0}, kT0));
  size_t calls = 0;
  const auto count = [&](std::string_view, std::string_view, size_t) { ++calls; };
  queue.Expire(kT0 + milliseconds(9), count);
  EXPECT_EQ(calls, 0u);
  queue.Expire(kT0 + milliseconds(10), count);
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(queue.size(), 0u);
}

}  // namespace
}  // namespace switchboard::routing
