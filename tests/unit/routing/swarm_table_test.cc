#include "routing/swarm_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

using namespace std::chrono_literals;
using Clock = SwarmTable::Clock;

class SwarmTableTest : public ::testing::Test {
 protected:
  SwarmAnnounced Announce(std::string_view swarm, std::string_view member, size_t wanted = 0,
                          bool complete = false, bool completed = false) {
    return table_.Announce({swarm, member, complete, completed, wanted}, now_, random_);
  }

  SwarmTable table_{SwarmTable::Limits{.max_members = 5, .max_swarms = 3, .member_ttl = 240s}};
  Clock::time_point now_ = Clock::time_point{} + 1000s;
  std::mt19937_64 random_{42};
};

TEST_F(SwarmTableTest, CountsSeedersAndLeechersAndCompletions) {
  EXPECT_EQ(Announce("s", "a").counts.incomplete, 1u);
  const SwarmAnnounced b = Announce("s", "b", 0, /*complete=*/true, /*completed=*/true);
  EXPECT_EQ(b.counts.complete, 1u);
  EXPECT_EQ(b.counts.incomplete, 1u);
  EXPECT_EQ(b.counts.downloaded, 1u);
  // "a" finishes: it moves over, and is counted as a download once, however often it says so.
  Announce("s", "a", 0, true, true);
  Announce("s", "a", 0, true, true);
  SwarmCounts c = table_.Counts("s");
  EXPECT_EQ(c.complete, 2u);
  EXPECT_EQ(c.incomplete, 0u);
  EXPECT_EQ(c.downloaded, 2u);
  // A seeder that starts over (a new download of the same swarm) is a leecher again.
  Announce("s", "a", 0, false);
  c = table_.Counts("s");
  EXPECT_EQ(c.complete, 1u);
  EXPECT_EQ(c.incomplete, 1u);
  EXPECT_EQ(table_.members(), 2u);
  EXPECT_EQ(table_.Counts("other").incomplete, 0u);
}

TEST_F(SwarmTableTest, PicksOthersNeverTheAnnouncerAndNoRepeats) {
  for (const char* m : {"a", "b", "c", "d"}) Announce("s", m);
  for (size_t wanted : {0u, 1u, 2u, 3u, 10u}) {
    const SwarmAnnounced r = Announce("s", "a", wanted);
    EXPECT_EQ(r.picked.size(), std::min<size_t>(wanted, 3)) << wanted;
    const std::set<std::string> unique(r.picked.begin(), r.picked.end());
    EXPECT_EQ(unique.size(), r.picked.size());
    EXPECT_EQ(unique.count("a"), 0u);
  }
  EXPECT_TRUE(Announce("t", "alone", 5).picked.empty());
  // Pick without announcing: anyone but `except`, or anyone at all.
  EXPECT_EQ(table_.Pick("s", "b", 10, random_).size(), 3u);
  EXPECT_EQ(table_.Pick("s", "", 10, random_).size(), 4u);
  EXPECT_TRUE(table_.Pick("nowhere", "", 10, random_).empty());
}

TEST_F(SwarmTableTest, PicksAreUniform) {
  for (const char* m : {"a", "b", "c", "d", "e"}) Announce("s", m);
  std::map<std::string, int> times;
  constexpr int kRounds = 20000;
  for (int i = 0; i < kRounds; ++i) {
    for (const std::string& p : table_.Pick("s", "a", 2, random_)) ++times[p];
  }
  // Each of the 4 others is picked in half the rounds; 4 sigma is about 1.4% of that.
  ASSERT_EQ(times.size(), 4u);
  for (const auto& [member, n] : times) EXPECT_NEAR(n, kRounds / 2, kRounds / 2 * 0.03) << member;
}

TEST_F(SwarmTableTest, RefusesPastItsBoundsAndChangesNothing) {
  for (const char* m : {"a", "b", "c", "d", "e"}) Announce("s", m);
  const SwarmAnnounced full = Announce("s", "f", 3);
  EXPECT_EQ(full.refusal, SwarmRefusal::kSwarmFull);
  EXPECT_TRUE(full.picked.empty());
  EXPECT_EQ(full.counts.incomplete, 5u);
  EXPECT_EQ(Announce("s", "e", 1).refusal, SwarmRefusal::kNone);  // a member may refresh
  Announce("t", "a");
  Announce("u", "a");
  EXPECT_EQ(Announce("v", "a").refusal, SwarmRefusal::kTooManySwarms);
  EXPECT_EQ(table_.swarms(), 3u);
  EXPECT_EQ(table_.members(), 7u);
  // Once a swarm empties, there is room for another.
  EXPECT_TRUE(table_.Leave("u", "a"));
  EXPECT_FALSE(table_.Leave("u", "a"));
  EXPECT_EQ(Announce("v", "a").refusal, SwarmRefusal::kNone);
}

TEST_F(SwarmTableTest, LeaveForgetsTheMemberAndAnEmptySwarm) {
  Announce("s", "a", 0, true, true);
  Announce("s", "b");
  EXPECT_TRUE(table_.Leave("s", "a"));
  SwarmCounts c = table_.Counts("s");
  EXPECT_EQ(c.complete, 0u);
  EXPECT_EQ(c.incomplete, 1u);
  EXPECT_EQ(table_.Pick("s", "", 5, random_), std::vector<std::string>{"b"});
  EXPECT_TRUE(table_.Leave("s", "b"));
  EXPECT_EQ(table_.swarms(), 0u);
  EXPECT_EQ(table_.Counts("s").downloaded, 0u);  // forgotten with the swarm
  EXPECT_FALSE(table_.Leave("nowhere", "a"));
}

TEST_F(SwarmTableTest, MembersLapseAfterTheTtlUnlessTheyAnnounceAgain) {
  Announce("s", "quiet");
  Announce("s", "chatty");
  Announce("t", "quiet");
  for (int i = 0; i < 4; ++i) {
    now_ += 100s;
    Announce("s", "chatty");
    EXPECT_EQ(table_.Expire(now_), i < 2 ? 0u : (i == 2 ? 2u : 0u)) << i;
  }
  // At 1300 s, "quiet" (last seen at 1000 s) lapsed from both swarms; "chatty" stays.
  EXPECT_EQ(table_.Pick("s", "", 5, random_), std::vector<std::string>{"chatty"});
  EXPECT_EQ(table_.swarms(), 1u);
  now_ += 239s;
  EXPECT_EQ(table_.Expire(now_), 0u);
  now_ += 1s;
  EXPECT_EQ(table_.Expire(now_), 1u);
  EXPECT_EQ(table_.members(), 0u);
}

TEST_F(SwarmTableTest, AnnouncingInALoopKeepsTheMemberAndFewDeadlines) {
  // Announces every 10 ms for 300 s: the member never lapses, and lapses 240 s after the last.
  const Clock::time_point start = now_;
  while (now_ < start + 300s) {
    Announce("s", "busy");
    now_ += 10ms;
    table_.Expire(now_);
    ASSERT_EQ(table_.members(), 1u);
  }
  // One entry a second at most (30,000 announces): those of the last 240 s, and one more.
  EXPECT_LE(table_.queued_deadlines(), 242u);
  now_ += 239s;
  EXPECT_EQ(table_.Expire(now_), 0u);
  now_ += 2s;
  EXPECT_EQ(table_.Expire(now_), 1u);
}

TEST_F(SwarmTableTest, LeavingAndComingBackStartsAFreshTtl) {
  Announce("s", "a");
  now_ += 200s;
  table_.Leave("s", "a");
  Announce("s", "a");
  now_ += 100s;  // the first entry (at 1240 s) comes due: it is not the member's latest
  EXPECT_EQ(table_.Expire(now_), 0u);
  now_ += 140s;
  EXPECT_EQ(table_.Expire(now_), 1u);
}

}  // namespace
}  // namespace switchboard::routing
