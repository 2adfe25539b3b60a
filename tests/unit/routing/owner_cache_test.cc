#include "routing/owner_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::routing {
namespace {

TEST(OwnerCacheTest, RemembersWhatItLearns) {
  OwnerCache cache(4);
  EXPECT_EQ(cache.Find("bob"), nullptr);
  cache.Learn("bob", "pod-2");
  ASSERT_NE(cache.Find("bob"), nullptr);
  EXPECT_EQ(cache.Find("bob")->pod, "pod-2");
  EXPECT_EQ(cache.Find("bob")->last_publish, 0u);
  EXPECT_EQ(cache.size(), 1u);
}

// An entry changes only by being forgotten: learning another pod for a known peer is ignored.
TEST(OwnerCacheTest, LearningDoesNotReplaceAnEntry) {
  OwnerCache cache(4);
  cache.Learn("bob", "pod-2");
  cache.Find("bob")->last_publish = 7;
  cache.Learn("bob", "pod-3");
  EXPECT_EQ(cache.Find("bob")->pod, "pod-2");
  EXPECT_EQ(cache.Find("bob")->last_publish, 7u);
}

TEST(OwnerCacheTest, ForgetReturnsTheEntry) {
  OwnerCache cache(4);
  cache.Learn("bob", "pod-2");
  cache.Find("bob")->last_publish = 42;
  const OwnerCache::Entry forgotten = cache.Forget("bob");
  EXPECT_EQ(forgotten.pod, "pod-2");
  EXPECT_EQ(forgotten.last_publish, 42u);
  EXPECT_EQ(cache.Find("bob"), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  const OwnerCache::Entry none = cache.Forget("bob");
  EXPECT_TRUE(none.pod.empty());
  EXPECT_EQ(none.last_publish, 0u);
  cache.Learn("bob", "pod-3");
  EXPECT_EQ(cache.Find("bob")->pod, "pod-3");
}

TEST(OwnerCacheTest, EvictsTheLeastRecentlyUsed) {
  OwnerCache cache(3);
  cache.Learn("a", "pod-1");
  cache.Learn("b", "pod-1");
  cache.Learn("c", "pod-1");
  ASSERT_NE(cache.Find("a"), nullptr);  // a is now the most recently used; b the least
  cache.Learn("d", "pod-1");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.Find("b"), nullptr);
  EXPECT_NE(cache.Find("a"), nullptr);
  EXPECT_NE(cache.Find("c"), nullptr);
  EXPECT_NE(cache.Find("d"), nullptr);
}

TEST(OwnerCacheTest, StaysWithinItsCapacity) {
  OwnerCache cache(100);
  for (int i = 0; i < 10000; ++i) {
    cache.Learn("peer-" + std::to_string(i), "pod-" + std::to_string(i % 7));
    if (i % 3 == 0) cache.Forget("peer-" + std::to_string(i / 2));
    ASSERT_LE(cache.size(), 100u);
  }
  for (int i = 9900; i < 10000; ++i) {
    const OwnerCache::Entry* entry = cache.Find("peer-" + std::to_string(i));
    if (entry != nullptr) {
      EXPECT_EQ(entry->pod, "pod-" + std::to_string(i % 7));
    }
  }
  EXPECT_EQ(OwnerCache(0).capacity(), 1u) << "a cache holds at least one entry";
}

}  // namespace
}  // namespace switchboard::routing
