// The embedded SwarmDirectory: a SwarmTable behind the asynchronous interface, answering at
// once. (SwarmTable's rules are swarm_table_test.cc's.)
#include "routing/swarm_directory.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

using namespace std::chrono_literals;

TEST(EmbeddedSwarmDirectoryTest, AnswersBeforeReturning) {
  EmbeddedSwarmDirectory directory(SwarmTable::Limits{.max_members = 2, .max_swarms = 1});
  std::optional<SwarmAnnounced> last;
  const auto keep = [&](std::optional<SwarmAnnounced> result) { last = std::move(result); };
  directory.Announce({"s", "a", false, false, 5}, keep);
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->picked.empty());
  directory.Announce({"s", "b", true, true, 5}, keep);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->picked, std::vector<std::string>{"a"});
  EXPECT_EQ(last->counts.complete, 1u);
  directory.Announce({"s", "c", false, false, 5}, keep);
  EXPECT_EQ(last->refusal, SwarmRefusal::kSwarmFull);

  std::optional<std::vector<SwarmCounts>> counts;
  directory.Scrape({"s", "nothing"}, [&](auto result) { counts = std::move(result); });
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].complete, 1u);
  EXPECT_EQ((*counts)[0].incomplete, 1u);
  EXPECT_EQ((*counts)[0].downloaded, 1u);
  EXPECT_EQ((*counts)[1].incomplete, 0u);

  directory.Leave("s", "a");
  directory.Scrape({"s"}, [&](auto result) { counts = std::move(result); });
  EXPECT_EQ((*counts)[0].incomplete, 0u);
  // Ticking far in the future lapses everyone.
  directory.Tick(Clock::now() + 1h);
  directory.Scrape({"s"}, [&](auto result) { counts = std::move(result); });
  EXPECT_EQ((*counts)[0].complete, 0u);
}

}  // namespace
}  // namespace switchboard::routing
