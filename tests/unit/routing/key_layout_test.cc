#include "routing/key_layout.h"

#include <gtest/gtest.h>

#include <set>

#include "routing/cluster_slot.h"

namespace switchboard::routing {
namespace {

TEST(KeyLayoutTest, EachBucketTagHashesIntoItsShareOfTheSlots) {
  std::set<std::string> tags;
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    const std::string tag = BucketTag(bucket);
    const int slot = KeySlot(tag);
    EXPECT_GE(slot, bucket * kClusterSlotCount / KeyLayout::kBuckets) << tag;
    EXPECT_LT(slot, (bucket + 1) * kClusterSlotCount / KeyLayout::kBuckets) << tag;
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), static_cast<size_t>(KeyLayout::kBuckets));
}

// What `redis-cli --cluster create` does with 3 masters: three contiguous ranges, as equal as
// can be. The buckets divide among them within one bucket of even.
TEST(KeyLayoutTest, TheBucketsDivideEvenlyAmongEqualSlotRanges) {
  for (int masters : {2, 3, 4, 8}) {
    std::vector<int> buckets_of(masters, 0);
    for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
      const int slot = KeySlot(BucketTag(bucket));
      ++buckets_of[slot * masters / kClusterSlotCount];
    }
    for (int count : buckets_of) {
      EXPECT_LE(count, KeyLayout::kBuckets / masters + 1) << masters << " masters";
      EXPECT_GE(count, KeyLayout::kBuckets / masters - 1) << masters << " masters";
    }
  }
}

TEST(KeyLayoutTest, EverythingAboutAPeerLivesInItsBucketsSlot) {
  const KeyLayout layout("sb");
  for (std::string_view peer : {"alice", "bob", "", "a{b}c", "{x}", "日本"}) {
    const int bucket = KeyLayout::BucketOf(peer);
    ASSERT_GE(bucket, 0);
    ASSERT_LT(bucket, KeyLayout::kBuckets);
    const int slot = KeySlot(layout.Peers(bucket));
    for (const std::string& key :
         {layout.Tokens(bucket), layout.Pods(bucket), layout.PodPeers(bucket, "pod-1"),
          layout.Alive(bucket, "pod-1"), layout.Channel(bucket, "pod-1"), layout.Queue(peer),
          layout.Released(peer), layout.Handed(peer), layout.ChannelFor(peer, "pod-2")}) {
      EXPECT_EQ(KeySlot(key), slot) << key;
    }
  }
}

TEST(KeyLayoutTest, NamesAreThePrefixTheBucketTagAndTheWhat) {
  const KeyLayout layout("sb");
  const std::string tag = BucketTag(KeyLayout::BucketOf("bob"));
  EXPECT_EQ(layout.Queue("bob"), "sb:{" + tag + "}:queue:bob");
  EXPECT_EQ(layout.ChannelFor("bob", "pod-1"), "sb:{" + tag + "}:pod:pod-1");
  EXPECT_EQ(layout.BucketPrefix(3), "sb:{" + BucketTag(3) + "}");
  EXPECT_EQ(layout.Alive(3, "p"), "sb:{" + BucketTag(3) + "}:alive:p");
}

TEST(KeyLayoutTest, PeersSpreadOverTheBuckets) {
  std::vector<int> peers_in(KeyLayout::kBuckets, 0);
  constexpr int kPeers = 64000;
  for (int i = 0; i < kPeers; ++i) ++peers_in[KeyLayout::BucketOf("peer-" + std::to_string(i))];
  for (int count : peers_in) {
    EXPECT_GT(count, kPeers / KeyLayout::kBuckets / 2);
    EXPECT_LT(count, kPeers / KeyLayout::kBuckets * 2);
  }
}

TEST(KeyLayoutTest, EachSwarmsKeysShareASlotAndSwarmsSpread) {
  const KeyLayout layout("sb");
  const std::array<std::string, 3> keys = layout.Swarm("t00ff");
  EXPECT_EQ(keys[0], "sb:{s:t00ff}:members");
  EXPECT_EQ(keys[1], "sb:{s:t00ff}:complete");
  EXPECT_EQ(keys[2], "sb:{s:t00ff}:downloaded");
  EXPECT_EQ(KeySlot(keys[0]), KeySlot(keys[1]));
  EXPECT_EQ(KeySlot(keys[0]), KeySlot(keys[2]));
  std::set<int> slots;
  for (int i = 0; i < 100; ++i) slots.insert(KeySlot(layout.Swarm("t" + std::to_string(i))[0]));
  EXPECT_GT(slots.size(), 90u);
}

}  // namespace
}  // namespace switchboard::routing
