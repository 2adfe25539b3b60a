#include "routing/expiry_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> Targets(const std::vector<ExpiryTracker::Pair>& pairs) {
  std::vector<std::string> targets;
  for (const ExpiryTracker::Pair& pair : pairs) targets.push_back(pair.target);
  return targets;
}

const Clock::time_point kNow = Clock::now();

TEST(ExpiryTrackerTest, HandsOutPairsWhenTheyAreDueEarliestFirst) {
  ExpiryTracker tracker;
  tracker.Track({"pod-a", "alice", "late"}, kNow + milliseconds(300));
  tracker.Track({"pod-a", "alice", "early"}, kNow + milliseconds(100));
  tracker.Track({"pod-a", "alice", "middle"}, kNow + milliseconds(200));
  EXPECT_TRUE(tracker.TakeDue(kNow).empty());
  EXPECT_EQ(Targets(tracker.TakeDue(kNow + milliseconds(200))),
            (std::vector<std::string>{"early", "middle"}));
  EXPECT_EQ(Targets(tracker.TakeDue(kNow + milliseconds(1000))),
            (std::vector<std::string>{"late"}));
}

// One check per pair at a time: it looks at the pair's oldest frame and reschedules itself.
TEST(ExpiryTrackerTest, APairIsCheckedOnceUntilItsCheckIsFinished) {
  ExpiryTracker tracker;
  const ExpiryTracker::Pair pair{"pod-a", "alice", "bob"};
  tracker.Track(pair, kNow + milliseconds(100));
  tracker.Track(pair, kNow + milliseconds(50));
  EXPECT_EQ(tracker.size(), 1u);
  ASSERT_EQ(tracker.TakeDue(kNow + milliseconds(100)).size(), 1u);
  tracker.Track(pair, kNow + milliseconds(150));  // while the check runs: nothing
  EXPECT_TRUE(tracker.TakeDue(kNow + milliseconds(1000)).empty());
  tracker.Finished(pair);
  tracker.Track(pair, kNow + milliseconds(150));
  EXPECT_EQ(tracker.TakeDue(kNow + milliseconds(1000)).size(), 1u);
  // Another sender, or the same sender on another pod, is another pair.
  tracker.Track({"pod-a", "carol", "bob"}, kNow);
  tracker.Track({"pod-b", "alice", "bob"}, kNow);
  EXPECT_EQ(tracker.TakeDue(kNow).size(), 2u);
}

TEST(ExpiryTrackerTest, TakeAllEmptiesIt) {
  ExpiryTracker tracker;
  tracker.Track({"pod-a", "alice", "bob"}, kNow + milliseconds(100));
  tracker.Track({"pod-a", "alice", "carol"}, kNow + milliseconds(100));
  ASSERT_EQ(tracker.TakeDue(kNow + milliseconds(100)).size(), 2u);
  tracker.Track({"pod-a", "alice", "dave"}, kNow + milliseconds(100));
  EXPECT_EQ(Targets(tracker.TakeAll()), (std::vector<std::string>{"dave"}));
  EXPECT_EQ(tracker.size(), 0u);
  tracker.Track({"pod-a", "alice", "bob"}, kNow);  // pending ones were forgotten too
  EXPECT_EQ(tracker.TakeDue(kNow).size(), 1u);
}

// A target stays known while any pair of it is pending, taken or not.
TEST(ExpiryTrackerTest, KnowsWhichTargetsHaveFramesQueued) {
  ExpiryTracker tracker;
  EXPECT_FALSE(tracker.HasTarget("bob"));
  tracker.Track({"pod-a", "alice", "bob"}, kNow);
  tracker.Track({"pod-a", "carol", "bob"}, kNow);
  tracker.Track({"pod-a", "alice", "bob"}, kNow);  // already pending: no second count
  EXPECT_TRUE(tracker.HasTarget("bob"));
  EXPECT_FALSE(tracker.HasTarget("alice"));
  ASSERT_EQ(tracker.TakeDue(kNow).size(), 2u);
  EXPECT_TRUE(tracker.HasTarget("bob")) << "taken, not finished";
  tracker.Finished({"pod-a", "alice", "bob"});
  tracker.Finished({"pod-a", "alice", "bob"});  // twice: counted once
  EXPECT_TRUE(tracker.HasTarget("bob"));
  tracker.Finished({"pod-a", "carol", "bob"});
  EXPECT_FALSE(tracker.HasTarget("bob"));
  tracker.Track({"pod-a", "alice", "dave"}, kNow);
  tracker.TakeAll();
  EXPECT_FALSE(tracker.HasTarget("dave"));
}

}  // namespace
}  // namespace switchboard::routing
