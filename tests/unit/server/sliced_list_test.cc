#include "server/sliced_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

namespace switchboard::server {
namespace {

struct Item {
  int id = 0;
  size_t index = 0;
  size_t& list_index() { return index; }
};

TEST(SlicedListTest, RemoveKeepsTheOthers) {
  std::vector<Item> items(5);
  SlicedList<Item> list;
  for (int i = 0; i < 5; ++i) {
    items[i].id = i;
    list.Add(&items[i]);
  }
  list.Remove(&items[1]);
  list.Remove(&items[4]);  // the last one
  std::vector<int> left;
  for (Item* item : list) left.push_back(item->id);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<int>{0, 2, 3}));
  for (size_t i = 0; i < list.size(); ++i) EXPECT_EQ((*(list.begin() + i))->index, i);
}

TEST(SlicedListTest, SlicesVisitEveryItemOncePerRound) {
  std::vector<Item> items(23);
  SlicedList<Item> list;
  for (auto& item : items) list.Add(&item);
  std::map<Item*, int> visits;
  for (int tick = 0; tick < 10; ++tick) {
    list.VisitSlice(10, [&](Item* item) { ++visits[item]; });
  }
  ASSERT_EQ(visits.size(), 23u);
  // 10 slices of 3 cover 30 visits: everyone once, and 7 a second time, never a third.
  for (auto& [item, count] : visits) EXPECT_TRUE(count == 1 || count == 2);
}

TEST(SlicedListTest, SlicesFollowRemovals) {
  std::vector<Item> items(4);
  SlicedList<Item> list;
  for (auto& item : items) list.Add(&item);
  list.VisitSlice(2, [](Item*) {});
  list.Remove(&items[0]);
  list.Remove(&items[1]);
  list.Remove(&items[2]);
  int visited = 0;
  list.VisitSlice(2, [&](Item* item) {
    EXPECT_EQ(item, &items[3]);
    ++visited;
  });
  EXPECT_EQ(visited, 1);
  list.Remove(&items[3]);
  list.VisitSlice(2, [&](Item*) { ++visited; });
  EXPECT_EQ(visited, 1);
  EXPECT_TRUE(list.empty());
}

}  // namespace
}  // namespace switchboard::server
