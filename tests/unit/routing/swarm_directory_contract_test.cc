// The swarm directory's contract (routing/swarm_directory.h) on every backend: one suite,
// instantiated for "embedded", "redis" and "cluster" (registry_fixture.h). On Redis, pod-a and
// pod-b share the swarms through a real redis-server (or a 3-master Redis Cluster), so a member
// one pod announced is picked by the other. Lapsing is on real time (Redis' clock on Redis),
// with a short TTL, checked by outcome.

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "registry_fixture.h"

namespace switchboard::routing {
namespace {

using Strings = std::vector<std::string>;

class SwarmDirectoryContractTest : public RegistryFixture,
                                   public testing::WithParamInterface<std::string> {
 protected:
  bool UsesRedis() const override { return GetParam() != "embedded"; }
  bool UsesCluster() const override { return GetParam() == "cluster"; }

  // Announces and pumps until the answer comes; nullopt if the backend said it could not.
  std::optional<SwarmAnnounced> Announce(Registry& pod, std::string_view swarm,
                                         std::string_view member, size_t wanted = 0,
                                         bool complete = false, bool completed = false) {
    bool answered = false;
    std::optional<SwarmAnnounced> result;
    pod.swarms().Announce({swarm, member, complete, completed, wanted},
                          [&](std::optional<SwarmAnnounced> r) {
                            answered = true;
                            result = std::move(r);
                          });
    EXPECT_TRUE(PumpUntil([&] { return answered; }, kPumpTimeout, "the announce is answered"));
    return result;
  }

  std::optional<std::vector<SwarmCounts>> Scrape(Registry& pod, const Strings& swarms) {
    bool answered = false;
    std::optional<std::vector<SwarmCounts>> result;
    pod.swarms().Scrape(swarms, [&](std::optional<std::vector<SwarmCounts>> r) {
      answered = true;
      result = std::move(r);
    });
    EXPECT_TRUE(PumpUntil([&] { return answered; }, kPumpTimeout, "the scrape is answered"));
    return result;
  }

  static Strings Sorted(Strings s) {
    std::sort(s.begin(), s.end());
    return s;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, SwarmDirectoryContractTest,
                         testing::Values("embedded", "redis", "cluster"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST_P(SwarmDirectoryContractTest, PicksMembersAnnouncedOnEitherPod) {
  StartPods();
  ASSERT_TRUE(Announce(a(), "t0123", "^aa"));
  ASSERT_TRUE(Announce(b(), "t0123", "^bb"));
  ASSERT_TRUE(Announce(a(), "t0123", "^cc"));
  const auto d = Announce(b(), "t0123", "^dd", 10);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->refusal, SwarmRefusal::kNone);
  EXPECT_EQ(Sorted(d->picked), (Strings{"^aa", "^bb", "^cc"}));
  EXPECT_EQ(d->counts.incomplete, 4u);
  // Two wanted: two distinct others, never the announcer.
  for (int i = 0; i < 10; ++i) {
    const auto r = Announce(a(), "t0123", "^aa", 2);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->picked.size(), 2u);
    EXPECT_NE(r->picked[0], r->picked[1]);
    for (const std::string& p : r->picked) EXPECT_NE(p, "^aa");
  }
  // Another swarm is another set of members.
  const auto other = Announce(a(), "t4567", "^ee", 10);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->picked.empty());
}

TEST_P(SwarmDirectoryContractTest, CountsSeedersLeechersAndDownloadsAndScrapesThem) {
  StartPods();
  ASSERT_TRUE(Announce(a(), "tseed", "^l1"));
  ASSERT_TRUE(Announce(b(), "tseed", "^s1", 0, true, true));
  ASSERT_TRUE(Announce(a(), "tseed", "^s2", 0, true, false));
  const auto again = Announce(b(), "tseed", "^s1", 0, true, true);  // counted once
  ASSERT_TRUE(again);
  EXPECT_EQ(again->counts.complete, 2u);
  EXPECT_EQ(again->counts.incomplete, 1u);
  EXPECT_EQ(again->counts.downloaded, 1u);
  const auto scraped = Scrape(b(), {"tseed", "tnobody"});
  ASSERT_TRUE(scraped);
  ASSERT_EQ(scraped->size(), 2u);
  EXPECT_EQ((*scraped)[0].complete, 2u);
  EXPECT_EQ((*scraped)[0].incomplete, 1u);
  EXPECT_EQ((*scraped)[0].downloaded, 1u);
  EXPECT_EQ((*scraped)[1].complete + (*scraped)[1].incomplete + (*scraped)[1].downloaded, 0u);
  const auto none = Scrape(a(), {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(SwarmDirectoryContractTest, LeaveRemovesTheMemberForEveryPod) {
  StartPods();
  ASSERT_TRUE(Announce(a(), "tleave", "^aa"));
  ASSERT_TRUE(Announce(a(), "tleave", "^bb", 0, true));
  b().swarms().Leave("tleave", "^aa");
  b().swarms().Leave("tleave", "^bb");
  b().swarms().Leave("tleave", "^never-there");
  // Leave reports nothing; pod-b's next call comes after it (one connection, in order).
  const auto c = Announce(b(), "tleave", "^cc", 10);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->picked.empty());
  EXPECT_EQ(c->counts.complete, 0u);
  EXPECT_EQ(c->counts.incomplete, 1u);
  const auto seen_by_a = Scrape(a(), {"tleave"});
  ASSERT_TRUE(seen_by_a);
  EXPECT_EQ((*seen_by_a)[0].complete + (*seen_by_a)[0].incomplete, 1u);
}

TEST_P(SwarmDirectoryContractTest, RefusesANewMemberOfAFullSwarmButNotAKnownOne) {
  PodOptions options;
  options.swarm_limits.max_members = 2;
  StartPods(options);
  ASSERT_TRUE(Announce(a(), "tfull", "^aa"));
  ASSERT_TRUE(Announce(b(), "tfull", "^bb"));
  const auto refused = Announce(a(), "tfull", "^cc", 5);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->refusal, SwarmRefusal::kSwarmFull);
  EXPECT_TRUE(refused->picked.empty());
  EXPECT_EQ(refused->counts.incomplete, 2u);
  const auto known = Announce(b(), "tfull", "^aa", 5);
  ASSERT_TRUE(known);
  EXPECT_EQ(known->refusal, SwarmRefusal::kNone);
  EXPECT_EQ(known->picked, Strings{"^bb"});
}

TEST_P(SwarmDirectoryContractTest, MembersLapseWhenTheyStopAnnouncing) {
  PodOptions options;
  options.swarm_limits.member_ttl = milliseconds(400);
  StartPods(options);
  ASSERT_TRUE(Announce(a(), "tlapse", "^quiet"));
  ASSERT_TRUE(Announce(b(), "tlapse", "^chatty"));
  // "chatty" keeps announcing; "quiet" must be gone once its TTL has run out.
  const auto since = Clock::now();
  bool lapsed = false;
  while (!lapsed && Clock::now() - since < kPumpTimeout) {
    PumpOnce(true);
    const auto r = Announce(b(), "tlapse", "^chatty", 10);
    ASSERT_TRUE(r);
    lapsed = r->picked.empty();
    if (!lapsed) {
      EXPECT_EQ(r->picked, Strings{"^quiet"});
    }
  }
  EXPECT_TRUE(lapsed) << "^quiet never lapsed";
  EXPECT_GE(Clock::now() - since, milliseconds(300)) << "lapsed before its TTL";
  const auto counts = Scrape(a(), {"tlapse"});
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)[0].incomplete, 1u);
}

// ---------------------------------------------------------------------------------------------
// Redis only.

class RedisSwarmDirectoryTest : public RegistryFixture {
 protected:
  bool UsesRedis() const override { return true; }
};

TEST_F(RedisSwarmDirectoryTest, AnswersNothingWhileRedisIsDown) {
  StartPods();
  redis_.Kill();
  ASSERT_TRUE(PumpUntil([&] { return !static_cast<RedisRegistry&>(a()).up(); }, kPumpTimeout,
                        "pod-a sees Redis gone"));
  bool answered = false;
  std::optional<SwarmAnnounced> result{SwarmAnnounced{}};
  a().swarms().Announce({"tdown", "^aa", false, false, 3}, [&](std::optional<SwarmAnnounced> r) {
    answered = true;
    result = std::move(r);
  });
  ASSERT_TRUE(PumpUntil([&] { return answered; }, kPumpTimeout, "the announce is answered"));
  EXPECT_FALSE(result);
  a().swarms().Leave("tdown", "^aa");  // nothing to report, and no crash
}

}  // namespace
}  // namespace switchboard::routing
