#include "routing/slot_map.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "redis_cluster_fixture.h"
#include "redis_server_fixture.h"
#include "routing/cluster_redirect.h"
#include "routing/cluster_slot.h"

namespace switchboard::routing {
namespace {

// RESP text builders, to write replies the way a server sends them.
std::string Int(long long value) { return ":" + std::to_string(value) + "\r\n"; }
std::string Bulk(std::string_view text) {
  return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
}
std::string Nil() { return "$-1\r\n"; }
std::string Arr(const std::vector<std::string>& items) {
  std::string text = "*" + std::to_string(items.size()) + "\r\n";
  for (const std::string& item : items) text += item;
  return text;
}
// A node as CLUSTER SLOTS lists it in Redis 7: endpoint, port, id, metadata.
std::string Node(std::string_view host, int port) {
  return Arr({Bulk(host), Int(port), Bulk("0123456789abcdef0123456789abcdef01234567"), Arr({})});
}
std::string Range(long long start, long long end, const std::vector<std::string>& nodes) {
  std::vector<std::string> items = {Int(start), Int(end)};
  items.insert(items.end(), nodes.begin(), nodes.end());
  return Arr(items);
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// The reply tree hiredis' own reader makes of `resp`; null if the text is not one whole reply.
Reply Parse(std::string_view resp) {
  redisReader* reader = redisReaderCreate();
  if (reader == nullptr) return nullptr;
  void* reply = nullptr;
  if (redisReaderFeed(reader, resp.data(), resp.size()) != REDIS_OK ||
      redisReaderGetReply(reader, &reply) != REDIS_OK) {
    reply = nullptr;
  }
  redisReaderFree(reader);
  return Reply(static_cast<redisReply*>(reply));
}

std::optional<SlotMap> Build(std::string_view resp, std::string* error,
                             std::string_view fallback = "10.0.0.9") {
  Reply reply = Parse(resp);
  EXPECT_NE(reply, nullptr) << "the test's RESP text is not one reply";
  return SlotMap::FromClusterSlots(reply.get(), fallback, error);
}

// Builds from `resp`, expecting a refusal; returns its error.
std::string Refusal(std::string_view resp, std::string_view fallback = "10.0.0.9") {
  std::string error;
  const std::optional<SlotMap> map = Build(resp, &error, fallback);
  if (map) return "(accepted)";
  EXPECT_FALSE(error.empty()) << "refused without saying why";
  return error;
}

std::string Describe(const NodeAddress* node) { return node == nullptr ? "-" : ToString(*node); }

// Checks what must hold of any map, however it was made.
void ExpectConsistent(const SlotMap& map) {
  const std::vector<NodeAddress> masters = map.Masters();
  std::vector<int> slots_of(masters.size(), 0);
  int covered = 0;
  for (int slot = 0; slot < kClusterSlotCount; ++slot) {
    const NodeAddress* node = map.MasterFor(static_cast<uint16_t>(slot));
    if (node == nullptr) continue;
    ++covered;
    const auto it = std::find(masters.begin(), masters.end(), *node);
    ASSERT_NE(it, masters.end()) << "slot " << slot << " names a node outside Masters()";
    ++slots_of[it - masters.begin()];
  }
  EXPECT_EQ(covered, map.CoveredSlots());
  EXPECT_EQ(map.Complete(), covered == kClusterSlotCount);
  for (size_t i = 0; i < masters.size(); ++i) {
    EXPECT_GT(slots_of[i], 0) << ToString(masters[i]) << " is listed but serves nothing";
    for (size_t j = i + 1; j < masters.size(); ++j) EXPECT_NE(masters[i], masters[j]);
  }
}

// Three masters covering every slot, two of them with a replica.
std::string ThreeMasters() {
  return Arr({Range(0, 5460, {Node("127.0.0.1", 7000), Node("127.0.0.1", 7003)}),
              Range(5461, 10922, {Node("127.0.0.1", 7001), Node("127.0.0.1", 7004)}),
              Range(10923, 16383, {Node("127.0.0.1", 7002)})});
}

TEST(SlotMapTest, EmptyMapCoversNothing) {
  const SlotMap map;
  EXPECT_EQ(map.MasterFor(0), nullptr);
  EXPECT_EQ(map.MasterFor(16383), nullptr);
  EXPECT_FALSE(map.Complete());
  EXPECT_EQ(map.CoveredSlots(), 0);
  EXPECT_TRUE(map.Masters().empty());
}

TEST(SlotMapTest, ThreeMastersWithReplicas) {
  std::string error;
  const std::optional<SlotMap> map = Build(ThreeMasters(), &error);
  ASSERT_TRUE(map) << error;
  EXPECT_TRUE(map->Complete());
  EXPECT_EQ(Describe(map->MasterFor(0)), "127.0.0.1:7000");
  EXPECT_EQ(Describe(map->MasterFor(5460)), "127.0.0.1:7000");
  EXPECT_EQ(Describe(map->MasterFor(5461)), "127.0.0.1:7001");
  EXPECT_EQ(Describe(map->MasterFor(10922)), "127.0.0.1:7001");
  EXPECT_EQ(Describe(map->MasterFor(10923)), "127.0.0.1:7002");
  EXPECT_EQ(Describe(map->MasterFor(16383)), "127.0.0.1:7002");
  EXPECT_EQ(map->MasterFor(16384), nullptr);
  EXPECT_EQ(map->MasterFor(65535), nullptr);
  const std::vector<NodeAddress> masters = map->Masters();
  ASSERT_EQ(masters.size(), 3u) << "replicas are not masters";
  EXPECT_EQ(ToString(masters[0]), "127.0.0.1:7000");
  EXPECT_EQ(ToString(masters[1]), "127.0.0.1:7001");
  EXPECT_EQ(ToString(masters[2]), "127.0.0.1:7002");
  ExpectConsistent(*map);
}

TEST(SlotMapTest, AMasterWithSeveralRangesIsListedOnce) {
  std::string error;
  const std::optional<SlotMap> map =
      Build(Arr({Range(100, 199, {Node("b", 2)}), Range(0, 99, {Node("a", 1)}),
                 Range(200, 200, {Node("b", 2)}), Range(300, 16383, {Node("a", 1)})}),
            &error);
  ASSERT_TRUE(map) << error;
  const std::vector<NodeAddress> masters = map->Masters();
  ASSERT_EQ(masters.size(), 2u);
  EXPECT_EQ(ToString(masters[0]), "b:2") << "in order of first appearance";
  EXPECT_EQ(ToString(masters[1]), "a:1");
  EXPECT_EQ(Describe(map->MasterFor(200)), "b:2");
  EXPECT_EQ(Describe(map->MasterFor(201)), "-");
  EXPECT_EQ(Describe(map->MasterFor(299)), "-");
  EXPECT_EQ(Describe(map->MasterFor(300)), "a:1");
  EXPECT_EQ(map->CoveredSlots(), 16384 - 99);
  EXPECT_FALSE(map->Complete());
  ExpectConsistent(*map);
}

TEST(SlotMapTest, SameHostDifferentPortsAreDifferentNodes) {
  std::string error;
  const std::optional<SlotMap> map =
      Build(Arr({Range(0, 0, {Node("h", 1)}), Range(1, 1, {Node("h", 2)})}), &error);
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(map->Masters().size(), 2u);
}

TEST(SlotMapTest, EmptyOrNilEndpointMeansTheHostAsked) {
  std::string error;
  const std::optional<SlotMap> map = Build(
      Arr({Range(0, 10, {Node("", 7000)}), Range(11, 20, {Arr({Nil(), Int(7001), Bulk("id")})}),
           Range(21, 30, {Node("x", 7002)})}),
      &error, "redis.internal");
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(Describe(map->MasterFor(0)), "redis.internal:7000");
  EXPECT_EQ(Describe(map->MasterFor(11)), "redis.internal:7001");
  EXPECT_EQ(Describe(map->MasterFor(21)), "x:7002");
}

TEST(SlotMapTest, UnknownEndpointLeavesItsSlotsUncovered) {
  std::string error;
  const std::optional<SlotMap> map = Build(
      Arr({Range(0, 8191, {Node("?", 7000)}), Range(8192, 16383, {Node("a", 7001)})}), &error);
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(map->MasterFor(0), nullptr);
  EXPECT_EQ(map->MasterFor(8191), nullptr);
  EXPECT_EQ(Describe(map->MasterFor(8192)), "a:7001");
  EXPECT_EQ(map->CoveredSlots(), 8192);
  EXPECT_EQ(map->Masters().size(), 1u);
  // Its slots still count for overlaps.
  EXPECT_NE(Refusal(Arr({Range(0, 10, {Node("?", 7000)}), Range(10, 10, {Node("a", 7001)})})),
            "(accepted)");
}

TEST(SlotMapTest, IPv6AndMinimalNodes) {
  std::string error;
  const std::optional<SlotMap> map =
      Build(Arr({Range(0, 16383, {Arr({Bulk("::1"), Int(7000)})})}), &error);
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(Describe(map->MasterFor(42)), "[::1]:7000");
  EXPECT_EQ(map->MasterFor(42)->host, "::1");
  EXPECT_TRUE(map->Complete());
}

TEST(SlotMapTest, EmptyReplyIsAnEmptyMap) {
  // A fresh node with no slots assigned answers an empty array.
  std::string error;
  const std::optional<SlotMap> map = Build(Arr({}), &error);
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(map->CoveredSlots(), 0);
  EXPECT_TRUE(map->Masters().empty());
}

TEST(SlotMapTest, RefusesRepliesOfTheWrongKind) {
  std::string error;
  EXPECT_FALSE(SlotMap::FromClusterSlots(nullptr, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS: no reply");
  EXPECT_EQ(Refusal("-ERR This instance has cluster support disabled\r\n"),
            "CLUSTER SLOTS failed: ERR This instance has cluster support disabled");
  EXPECT_EQ(Refusal("+OK\r\n"), "CLUSTER SLOTS reply is a status, not an array");
  EXPECT_EQ(Refusal(Int(3)), "CLUSTER SLOTS reply is a integer, not an array");
  EXPECT_EQ(Refusal(Bulk("x")), "CLUSTER SLOTS reply is a string, not an array");
  EXPECT_EQ(Refusal(Nil()), "CLUSTER SLOTS reply is a nil, not an array");
  EXPECT_EQ(Refusal("*-1\r\n"), "CLUSTER SLOTS reply is a nil, not an array");
}

TEST(SlotMapTest, RefusesMalformedRanges) {
  const std::string a = Node("a", 1);
  EXPECT_EQ(Refusal(Arr({Int(1)})), "CLUSTER SLOTS entry 0 is a integer, not an array");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {a}), Arr({Int(2), Int(3)})})),
            "CLUSTER SLOTS entry 1 has 2 elements, not at least 3 (start, end, master)");
  EXPECT_EQ(Refusal(Arr({Arr({Bulk("0"), Int(3), a})})),
            "CLUSTER SLOTS entry 0: start slot is a string, not an integer");
  EXPECT_EQ(Refusal(Arr({Arr({Int(0), Nil(), a})})),
            "CLUSTER SLOTS entry 0: end slot is a nil, not an integer");
  EXPECT_EQ(Refusal(Arr({Range(-1, 3, {a})})),
            "CLUSTER SLOTS entry 0: start slot -1 is outside 0..16383");
  EXPECT_EQ(Refusal(Arr({Range(0, 16384, {a})})),
            "CLUSTER SLOTS entry 0: end slot 16384 is outside 0..16383");
  EXPECT_EQ(Refusal(Arr({Range(0, 9223372036854775807LL, {a})})),
            "CLUSTER SLOTS entry 0: end slot 9223372036854775807 is outside 0..16383");
  EXPECT_EQ(Refusal(Arr({Range(11, 10, {a})})),
            "CLUSTER SLOTS entry 0: start slot 11 is after end slot 10");
}

TEST(SlotMapTest, RefusesOverlappingRanges) {
  const std::string a = Node("a", 1);
  const std::string b = Node("b", 2);
  EXPECT_EQ(Refusal(Arr({Range(0, 100, {a}), Range(100, 200, {b})})),
            "CLUSTER SLOTS entry 1: slots 100-200 overlap an earlier range at slot 100");
  EXPECT_EQ(Refusal(Arr({Range(50, 60, {a}), Range(0, 16383, {b})})),
            "CLUSTER SLOTS entry 1: slots 0-16383 overlap an earlier range at slot 50");
  EXPECT_EQ(Refusal(Arr({Range(7, 7, {a}), Range(7, 7, {a})})),
            "CLUSTER SLOTS entry 1: slots 7-7 overlap an earlier range at slot 7");
}

TEST(SlotMapTest, RefusesMalformedNodes) {
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Bulk("a:1")})})),
            "CLUSTER SLOTS entry 0: master is a string, not an array");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Arr({Bulk("a")})})})),
            "CLUSTER SLOTS entry 0: master has 1 elements, not at least 2 (endpoint, port)");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Arr({Int(1), Int(2)})})})),
            "CLUSTER SLOTS entry 0: master's endpoint is a integer, not a string or nil");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Arr({Bulk("a"), Bulk("7000")})})})),
            "CLUSTER SLOTS entry 0: master's port is a string, not an integer");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node("a", 0)})})),
            "CLUSTER SLOTS entry 0: master's port 0 is outside 1..65535");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node("a", 65536)})})),
            "CLUSTER SLOTS entry 0: master's port 65536 is outside 1..65535");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node("a b", 1)})})),
            "CLUSTER SLOTS entry 0: master has an endpoint that is not a host name or address");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node(std::string_view("a\0b", 3), 1)})})),
            "CLUSTER SLOTS entry 0: master has an endpoint that is not a host name or address");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node(std::string(256, 'h'), 1)})})),
            "CLUSTER SLOTS entry 0: master has an endpoint that is not a host name or address");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node("a", 1), Node("b", -5)})})),
            "CLUSTER SLOTS entry 0: replica 0's port -5 is outside 1..65535");
  EXPECT_EQ(Refusal(Arr({Range(0, 1, {Node("a", 1), Node("b", 2), Int(3)})})),
            "CLUSTER SLOTS entry 0: replica 1 is a integer, not an array");
}

TEST(SlotMapTest, RefusesAnUnusableFallbackHost) {
  EXPECT_EQ(Refusal(ThreeMasters(), ""),
            "CLUSTER SLOTS: the host it was asked at is not a host name or address");
}

TEST(SlotMapTest, NullErrorPointerIsAllowed) {
  Reply reply = Parse(Int(1));
  EXPECT_FALSE(SlotMap::FromClusterSlots(reply.get(), "h", nullptr));
  reply = Parse(ThreeMasters());
  EXPECT_TRUE(SlotMap::FromClusterSlots(reply.get(), "h", nullptr));
}

TEST(SlotMapTest, HandBuiltTreesWithHolesAreRefused) {
  // Trees no reader makes: null element pointers, an element count with no vector behind it.
  redisReply start{};
  start.type = REDIS_REPLY_INTEGER;
  redisReply* range_items[3] = {&start, nullptr, nullptr};
  redisReply range{};
  range.type = REDIS_REPLY_ARRAY;
  range.elements = 3;
  range.element = range_items;
  redisReply* top_items[2] = {&range, nullptr};
  redisReply top{};
  top.type = REDIS_REPLY_ARRAY;
  top.elements = 1;
  top.element = top_items;
  std::string error;
  EXPECT_FALSE(SlotMap::FromClusterSlots(&top, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS entry 0: end slot is missing");

  top.elements = 2;
  range_items[1] = &start;
  range_items[2] = &start;
  EXPECT_FALSE(SlotMap::FromClusterSlots(&top, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS entry 0: master is a integer, not an array");

  range.element = nullptr;  // claims 3 elements, has none
  EXPECT_FALSE(SlotMap::FromClusterSlots(&top, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS entry 0: start slot is missing");

  top.element = nullptr;
  EXPECT_FALSE(SlotMap::FromClusterSlots(&top, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS entry 0 is missing");

  redisReply text{};  // an error reply with no text at all
  text.type = REDIS_REPLY_ERROR;
  EXPECT_FALSE(SlotMap::FromClusterSlots(&text, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS failed: ");
  text.type = 99;
  EXPECT_FALSE(SlotMap::FromClusterSlots(&text, "h", &error));
  EXPECT_EQ(error, "CLUSTER SLOTS reply is a reply of unknown type, not an array");
}

// A random reply tree, mostly close to the right shape so that the deep checks get exercised.
std::string RandomReply(std::mt19937& random, int depth) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int> small(-2, 20);
  std::uniform_int_distribution<int> count(0, 5);
  switch (depth >= 4 ? kind(random) % 5 : kind(random)) {
    case 0:
      return Int(small(random));
    case 1: {
      static constexpr long long kEdges[] = {0, 16383, 16384, 65535, 65536, -1, 1LL << 40};
      return Int(kEdges[std::uniform_int_distribution<int>(0, 6)(random)]);
    }
    case 2:
      return Int(std::uniform_int_distribution<int>(0, 16383)(random));
    case 3: {
      static constexpr std::string_view kTexts[] = {"", "?", "127.0.0.1", "::1", "a b", "x"};
      return Bulk(kTexts[std::uniform_int_distribution<int>(0, 5)(random)]);
    }
    case 4:
      return kind(random) < 5 ? Nil() : "-ERR x\r\n";
    default: {
      std::vector<std::string> items(static_cast<size_t>(count(random)));
      for (std::string& item : items) item = RandomReply(random, depth + 1);
      return Arr(items);
    }
  }
}

TEST(SlotMapTest, RandomTreesNeverCrashAndAcceptedMapsAreConsistent) {
  std::mt19937 random(2024);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string resp = RandomReply(random, 0);
    Reply reply = Parse(resp);
    ASSERT_NE(reply, nullptr);
    std::string error;
    const std::optional<SlotMap> map = SlotMap::FromClusterSlots(reply.get(), "h", &error);
    if (map) {
      ++accepted;
      ASSERT_NO_FATAL_FAILURE(ExpectConsistent(*map));
    } else {
      ASSERT_FALSE(error.empty());
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(SlotMapTest, RandomValidLayoutsRoundTrip) {
  std::mt19937 random(99);
  for (int round = 0; round < 50; ++round) {
    // Cut the slots into random ranges, each owned by one of a few nodes (or left out).
    std::vector<int> owner(kClusterSlotCount, -1);
    std::vector<std::string> ranges;
    int start = 0;
    while (start < kClusterSlotCount) {
      const int end = std::min<int>(kClusterSlotCount - 1,
                                    start + std::uniform_int_distribution<int>(0, 3000)(random));
      const int node = std::uniform_int_distribution<int>(-1, 4)(random);
      if (node >= 0) {
        ranges.push_back(Range(start, end, {Node("10.0.0." + std::to_string(node), 7000 + node)}));
        for (int slot = start; slot <= end; ++slot) owner[slot] = node;
      }
      start = end + 1;
    }
    std::shuffle(ranges.begin(), ranges.end(), random);  // CLUSTER SLOTS order is not promised
    std::string error;
    const std::optional<SlotMap> map = Build(Arr(ranges), &error);
    ASSERT_TRUE(map) << error;
    for (int slot = 0; slot < kClusterSlotCount; ++slot) {
      const NodeAddress* node = map->MasterFor(static_cast<uint16_t>(slot));
      if (owner[slot] < 0) {
        ASSERT_EQ(node, nullptr) << slot;
      } else {
        ASSERT_NE(node, nullptr) << slot;
        ASSERT_EQ(node->port, 7000 + owner[slot]) << slot;
      }
    }
    ASSERT_NO_FATAL_FAILURE(ExpectConsistent(*map));
  }
}

TEST(SlotMapTest, AssignMovesOneSlot) {
  std::optional<SlotMap> map = Build(ThreeMasters(), nullptr);
  ASSERT_TRUE(map);
  map->Assign(3999, NodeAddress{"127.0.0.1", 7002});
  EXPECT_EQ(Describe(map->MasterFor(3999)), "127.0.0.1:7002");
  EXPECT_EQ(Describe(map->MasterFor(3998)), "127.0.0.1:7000");
  EXPECT_EQ(Describe(map->MasterFor(4000)), "127.0.0.1:7000");
  EXPECT_TRUE(map->Complete());
  EXPECT_EQ(map->Masters().size(), 3u);
  ExpectConsistent(*map);
}

TEST(SlotMapTest, AssignToANewNodeAddsIt) {
  std::optional<SlotMap> map = Build(ThreeMasters(), nullptr);
  ASSERT_TRUE(map);
  map->Assign(16383, NodeAddress{"127.0.0.1", 7009});
  const std::vector<NodeAddress> masters = map->Masters();
  ASSERT_EQ(masters.size(), 4u);
  EXPECT_EQ(ToString(masters[3]), "127.0.0.1:7009");
  EXPECT_EQ(Describe(map->MasterFor(16383)), "127.0.0.1:7009");
  ExpectConsistent(*map);
}

TEST(SlotMapTest, ANodeLeftWithoutSlotsIsForgotten) {
  std::string error;
  std::optional<SlotMap> map = Build(
      Arr({Range(0, 1, {Node("a", 1)}), Range(2, 3, {Node("b", 2)}), Range(4, 5, {Node("c", 3)})}),
      &error);
  ASSERT_TRUE(map) << error;
  map->Assign(2, NodeAddress{"c", 3});
  EXPECT_EQ(map->Masters().size(), 3u);
  map->Assign(3, NodeAddress{"a", 1});  // b serves nothing now
  const std::vector<NodeAddress> masters = map->Masters();
  ASSERT_EQ(masters.size(), 2u);
  EXPECT_EQ(ToString(masters[0]), "a:1");
  EXPECT_EQ(ToString(masters[1]), "c:3");
  // The nodes after the one removed still resolve correctly.
  EXPECT_EQ(Describe(map->MasterFor(2)), "c:3");
  EXPECT_EQ(Describe(map->MasterFor(4)), "c:3");
  EXPECT_EQ(Describe(map->MasterFor(3)), "a:1");
  ExpectConsistent(*map);
}

TEST(SlotMapTest, AssignCoversAnUncoveredSlot) {
  SlotMap map;
  for (int slot = 0; slot < kClusterSlotCount; ++slot) {
    EXPECT_FALSE(map.Complete());
    map.Assign(static_cast<uint16_t>(slot), NodeAddress{"n" + std::to_string(slot % 3), 1});
  }
  EXPECT_TRUE(map.Complete());
  EXPECT_EQ(map.Masters().size(), 3u);
  map.Assign(16384, NodeAddress{"ignored", 1});
  map.Assign(65535, NodeAddress{"ignored", 1});
  EXPECT_EQ(map.Masters().size(), 3u);
  ExpectConsistent(map);
}

TEST(SlotMapTest, RandomAssignsKeepTheMapConsistent) {
  std::optional<SlotMap> map = Build(ThreeMasters(), nullptr);
  ASSERT_TRUE(map);
  std::mt19937 random(5);
  std::vector<int> expected(kClusterSlotCount);
  for (int slot = 0; slot < kClusterSlotCount; ++slot) {
    expected[slot] = map->MasterFor(static_cast<uint16_t>(slot))->port;
  }
  for (int i = 0; i < 3000; ++i) {
    const auto slot = static_cast<uint16_t>(std::uniform_int_distribution<int>(0, 16383)(random));
    const int port = 7000 + std::uniform_int_distribution<int>(0, 7)(random);
    map->Assign(slot, NodeAddress{"127.0.0.1", port});
    expected[slot] = port;
    if (i % 500 == 0) {
      ASSERT_NO_FATAL_FAILURE(ExpectConsistent(*map));
    }
  }
  for (int slot = 0; slot < kClusterSlotCount; ++slot) {
    ASSERT_EQ(map->MasterFor(static_cast<uint16_t>(slot))->port, expected[slot]) << slot;
  }
  ExpectConsistent(*map);
}

TEST(SlotMapTest, ToStringBracketsIPv6) {
  EXPECT_EQ(ToString(NodeAddress{"127.0.0.1", 6379}), "127.0.0.1:6379");
  EXPECT_EQ(ToString(NodeAddress{"redis-0.redis", 6379}), "redis-0.redis:6379");
  EXPECT_EQ(ToString(NodeAddress{"fe80::1", 7000}), "[fe80::1]:7000");
}

TEST(SlotMapTest, PlausibleHosts) {
  EXPECT_TRUE(IsPlausibleNodeHost("127.0.0.1"));
  EXPECT_TRUE(IsPlausibleNodeHost("::1"));
  EXPECT_TRUE(IsPlausibleNodeHost("redis-0.redis.default.svc.cluster.local"));
  EXPECT_TRUE(IsPlausibleNodeHost(std::string(255, 'h')));
  EXPECT_FALSE(IsPlausibleNodeHost(""));
  EXPECT_FALSE(IsPlausibleNodeHost(std::string(256, 'h')));
  EXPECT_FALSE(IsPlausibleNodeHost("a b"));
  EXPECT_FALSE(IsPlausibleNodeHost("a\tb"));
  EXPECT_FALSE(IsPlausibleNodeHost("a\x7f"));
  EXPECT_FALSE(IsPlausibleNodeHost("h\xc3\xa9"));
  EXPECT_FALSE(IsPlausibleNodeHost(std::string_view("a\0", 2)));
}

// --- A real three-master cluster ------------------------------------------------------------

// Three masters, made by hand (a layout redis-cli would not make): A serves 0-5460 and
// 16000-16383, B 5461-10922, C 10923-15999.
class SlotMapRealClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new RedisCluster();
    ready_ = cluster_->StartWithSlots(
        {{{0, 5460}, {16000, 16383}}, {{5461, 10922}}, {{10923, 15999}}}, &setup_error_);
  }

  static void TearDownTestSuite() {
    delete cluster_;  // kills the servers, removes their directories
    cluster_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(ready_) << setup_error_; }

  static int Port(int i) { return cluster_->Port(i); }

  static std::optional<SlotMap> FetchMap(int node, std::string* error) {
    RedisCluster::Reply reply = RedisCluster::Command(Port(node), {"CLUSTER", "SLOTS"});
    return SlotMap::FromClusterSlots(reply.get(), "127.0.0.1", error);
  }

  static inline RedisCluster* cluster_ = nullptr;
  static inline bool ready_ = false;
  static inline std::string setup_error_;
};

TEST_F(SlotMapRealClusterTest, EveryNodesClusterSlotsGivesTheSameCompleteMap) {
  for (int i = 0; i < 3; ++i) {
    std::string error;
    const std::optional<SlotMap> map = FetchMap(i, &error);
    ASSERT_TRUE(map) << "node " << i << ": " << error;
    EXPECT_TRUE(map->Complete()) << "node " << i;
    std::set<int> ports;
    for (const NodeAddress& master : map->Masters()) ports.insert(master.port);
    EXPECT_EQ(ports, (std::set<int>{Port(0), Port(1), Port(2)}));
    EXPECT_EQ(map->Masters().size(), 3u);
    const int boundaries[][2] = {{0, 0},     {5460, 0},  {5461, 1},  {10922, 1}, {10923, 2},
                                 {15999, 2}, {16000, 0}, {16383, 0}, {8000, 1}};
    for (const auto& [slot, owner] : boundaries) {
      const NodeAddress* master = map->MasterFor(static_cast<uint16_t>(slot));
      ASSERT_NE(master, nullptr) << slot;
      EXPECT_EQ(master->port, Port(owner)) << "slot " << slot << " per node " << i;
      EXPECT_EQ(master->host, "127.0.0.1");
    }
    ExpectConsistent(*map);
  }
}

TEST_F(SlotMapRealClusterTest, KeysGoWhereTheMapSaysAndMovedAgrees) {
  std::string error;
  const std::optional<SlotMap> map = FetchMap(1, &error);
  ASSERT_TRUE(map) << error;
  std::mt19937 random(31337);
  for (int i = 0; i < 200; ++i) {
    const std::string key = "{peer:" + std::to_string(random()) + "}.k" + std::to_string(i);
    const uint16_t slot = KeySlot(key);
    const NodeAddress* owner = map->MasterFor(slot);
    ASSERT_NE(owner, nullptr);
    RedisClient right(owner->port);
    ASSERT_EQ(right.Run({"SET", key, "v"}), "OK") << key << " on its owner";
    const int other = owner->port == Port(0) ? Port(1) : Port(0);
    RedisClient wrong(other);
    const std::string answer = wrong.Run({"GET", key});
    ASSERT_EQ(answer.rfind("(error) ", 0), 0u) << answer;
    const std::string text = answer.substr(8);
    const std::optional<ClusterRedirect> redirect = ParseClusterRedirect(text);
    ASSERT_TRUE(redirect) << text;
    EXPECT_EQ(redirect->kind, RedirectKind::kMoved) << text;
    EXPECT_EQ(redirect->slot, slot) << text;
    EXPECT_EQ(redirect->target, *owner) << text;
    const RedirectDecision decision = DecideRedirect(text, "127.0.0.1", 0);
    EXPECT_EQ(decision.action, RedirectAction::kFollowMoved);
    EXPECT_EQ(decision.target, *owner);
  }
}

TEST_F(SlotMapRealClusterTest, AskDuringAMigration) {
  // Node 0 starts migrating one of its slots to node 1: a key that is not (or no longer) on
  // node 0 is answered with ASK, and node 1 serves it only after ASKING.
  const std::string key = "{ask-test}";
  const uint16_t slot = KeySlot(key);
  std::string error;
  const std::optional<SlotMap> map = FetchMap(0, &error);
  ASSERT_TRUE(map) << error;
  const NodeAddress* owner = map->MasterFor(slot);
  ASSERT_NE(owner, nullptr);
  int source = 0;
  while (Port(source) != owner->port) ++source;
  const int destination = (source + 1) % 3;
  ASSERT_TRUE(cluster_->BeginMigration(slot, source, destination, &error)) << error;
  RedisClient from(Port(source));

  const std::string answer = from.Run({"GET", key});
  ASSERT_EQ(answer.rfind("(error) ", 0), 0u) << answer;
  const std::string text = answer.substr(8);
  const RedirectDecision decision = DecideRedirect(text, "127.0.0.1", 0);
  EXPECT_EQ(decision.action, RedirectAction::kFollowAsk) << text;
  EXPECT_TRUE(decision.send_asking);
  EXPECT_FALSE(decision.refresh_slot_map);
  EXPECT_EQ(decision.slot, slot);
  EXPECT_EQ(decision.target.port, Port(destination)) << text;

  // Without ASKING the destination sends us back; with it, it answers.
  RedisClient target(decision.target.port);
  const std::string refused = target.Run({"GET", key});
  EXPECT_EQ(
      DecideRedirect(refused.substr(std::min<size_t>(8, refused.size())), "127.0.0.1", 1).action,
      RedirectAction::kFollowMoved)
      << refused;
  EXPECT_EQ(target.Run({"ASKING"}), "OK");
  EXPECT_EQ(target.Run({"GET", key}), "(nil)");

  // Put the slot back as it was, for the other tests.
  EXPECT_TRUE(cluster_->CancelMigration(slot, source, destination, &error)) << error;
}

// --- A cluster made by redis-cli, with replicas, under resharding and failover -----------------

// The redirect a node answers for `key`, or nullopt (with the answer in `answer`) if it is not one.
std::optional<ClusterRedirect> RedirectFor(int port, const std::string& key, std::string* answer) {
  RedisClient client(port);
  *answer = client.Run({"GET", key});
  if (answer->rfind("(error) ", 0) != 0) return std::nullopt;
  return ParseClusterRedirect(std::string_view(*answer).substr(8));
}

// Checks that every live node's CLUSTER SLOTS gives a complete map whose owner of `slot` is
// node `owner`.
void ExpectEveryNodeSays(const RedisCluster& cluster, int slot, int owner) {
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.Alive(i)) continue;
    RedisCluster::Reply reply = RedisCluster::Command(cluster.Port(i), {"CLUSTER", "SLOTS"});
    std::string error;
    const std::optional<SlotMap> map = SlotMap::FromClusterSlots(reply.get(), "127.0.0.1", &error);
    ASSERT_TRUE(map) << "node " << i << ": " << error;
    EXPECT_TRUE(map->Complete()) << "node " << i;
    ASSERT_NE(map->MasterFor(static_cast<uint16_t>(slot)), nullptr);
    EXPECT_EQ(map->MasterFor(static_cast<uint16_t>(slot))->port, cluster.Port(owner))
        << "slot " << slot << " per node " << i;
    ExpectConsistent(*map);
  }
}

// Three masters with one replica each, made by `redis-cli --cluster create`.
class SlotMapResilientClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new RedisCluster();
    ready_ = cluster_->Start(3, 1, &setup_error_);
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(ready_) << setup_error_; }

  // A master other than `index`.
  static int OtherMaster(int index) {
    for (int master : cluster_->Masters()) {
      if (master != index) return master;
    }
    return -1;
  }

  static inline RedisCluster* cluster_ = nullptr;
  static inline bool ready_ = false;
  static inline std::string setup_error_;
};

TEST_F(SlotMapResilientClusterTest, TheMapOfEveryNodeIsTheFixturesView) {
  ASSERT_EQ(cluster_->size(), 6);
  const std::vector<int> masters = cluster_->Masters();
  ASSERT_EQ(masters.size(), 3u);
  for (int master : masters) EXPECT_EQ(cluster_->ReplicasOf(master).size(), 1u) << master;
  EXPECT_EQ(cluster_->SeedUrl(), "redis://127.0.0.1:" + std::to_string(cluster_->Port(0)));
  for (int i = 0; i < cluster_->size(); ++i) {
    RedisCluster::Reply reply = RedisCluster::Command(cluster_->Port(i), {"CLUSTER", "SLOTS"});
    std::string error;
    const std::optional<SlotMap> map = SlotMap::FromClusterSlots(reply.get(), "127.0.0.1", &error);
    ASSERT_TRUE(map) << "node " << i << ": " << error;
    EXPECT_TRUE(map->Complete());
    EXPECT_EQ(map->Masters().size(), 3u) << "replicas are not masters";
    for (int slot : {0, 5460, 5461, 10922, 10923, 16383}) {
      const int owner = cluster_->MasterForSlot(slot);
      ASSERT_GE(owner, 0) << slot;
      EXPECT_EQ(map->MasterFor(static_cast<uint16_t>(slot))->port, cluster_->Port(owner)) << slot;
    }
  }
}

TEST_F(SlotMapResilientClusterTest, MigrateSlotMovesItsKeysAndEveryMapFollows) {
  const std::string key = "{migrate-me}.a";
  const std::string sibling = "{migrate-me}.b";
  const int slot = KeySlot(key);
  const int from = cluster_->MasterForSlot(slot);
  ASSERT_GE(from, 0);
  const int to = OtherMaster(from);
  ASSERT_GE(to, 0);
  EXPECT_EQ(cluster_->Run(from, {"SET", key, "value-a"}), "OK");
  EXPECT_EQ(cluster_->Run(from, {"SET", sibling, "value-b", "EX", "600"}), "OK");

  std::string error;
  ASSERT_TRUE(cluster_->MigrateSlot(slot, from, to, &error)) << error;
  EXPECT_EQ(cluster_->MasterForSlot(slot), to);
  EXPECT_EQ(cluster_->Run(to, {"GET", key}), "value-a");
  EXPECT_EQ(cluster_->Run(to, {"GET", sibling}), "value-b");
  EXPECT_NE(cluster_->Run(to, {"TTL", sibling}), "-1") << "MIGRATE keeps the TTL";
  EXPECT_EQ(cluster_->Run(from, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}), "0");
  std::string answer;
  const std::optional<ClusterRedirect> moved = RedirectFor(cluster_->Port(from), key, &answer);
  ASSERT_TRUE(moved) << answer;
  EXPECT_EQ(moved->kind, RedirectKind::kMoved) << answer;
  EXPECT_EQ(moved->slot, slot);
  EXPECT_EQ(moved->target.port, cluster_->Port(to)) << answer;
  ExpectEveryNodeSays(*cluster_, slot, to);
}

TEST_F(SlotMapResilientClusterTest, StepByStepMigrationAsksForMovedKeysThenMoves) {
  const int slot = KeySlot("{step}");
  const int from = cluster_->MasterForSlot(slot);
  ASSERT_GE(from, 0);
  const int to = OtherMaster(from);
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back("{step}." + std::to_string(i));
    ASSERT_EQ(cluster_->Run(from, {"SET", keys.back(), std::to_string(i)}), "OK");
  }
  std::string error;
  ASSERT_TRUE(cluster_->BeginMigration(slot, from, to, &error)) << error;
  ASSERT_EQ(cluster_->MigrateKeys(slot, from, to, 2, &error), 2) << error;
  EXPECT_FALSE(cluster_->FinishMigration(slot, from, to, &error)) << "keys are left on the source";
  EXPECT_NE(error.find("still holds 3 keys"), std::string::npos) << error;

  // Mid-migration: the source serves the keys it still has and sends the others on with ASK.
  int asked = 0;
  for (const std::string& key : keys) {
    std::string answer;
    const std::optional<ClusterRedirect> redirect = RedirectFor(cluster_->Port(from), key, &answer);
    if (!redirect) continue;
    ++asked;
    EXPECT_EQ(redirect->kind, RedirectKind::kAsk) << answer;
    EXPECT_EQ(redirect->target.port, cluster_->Port(to)) << answer;
  }
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(cluster_->MasterForSlot(slot), from) << "the slot is still the source's";

  int moved = 0;
  while ((moved = cluster_->MigrateKeys(slot, from, to, 2, &error)) > 0) {
  }
  ASSERT_EQ(moved, 0) << error;
  ASSERT_TRUE(cluster_->FinishMigration(slot, from, to, &error)) << error;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cluster_->Run(to, {"GET", keys[i]}), std::to_string(i));
  ExpectEveryNodeSays(*cluster_, slot, to);
}

TEST(SlotMapFailoverTest, AKilledMastersReplicaTakesOverItsSlots) {
  RedisCluster cluster;
  std::string error;
  ASSERT_TRUE(cluster.Start(3, 1, &error)) << error;
  const std::string key = "{failover}";
  const int slot = KeySlot(key);
  const int victim = cluster.MasterForSlot(slot);
  ASSERT_GE(victim, 0);
  const std::vector<int> replicas = cluster.ReplicasOf(victim);
  ASSERT_EQ(replicas.size(), 1u);
  ASSERT_EQ(cluster.Run(victim, {"SET", key, "kept"}), "OK");
  RedisClient client(cluster.Port(victim));
  ASSERT_EQ(client.Run({"WAIT", "1", "2000"}), "1") << "the replica has the key";

  const auto killed_at = std::chrono::steady_clock::now();
  cluster.Kill(victim);
  ASSERT_TRUE(cluster.WaitForFailover(victim, std::chrono::seconds(15), &error)) << error;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - killed_at);
  RecordProperty("failover_ms", static_cast<int>(took.count()));
  RecordProperty("failover_forced", cluster.last_failover_forced() ? "yes" : "no");

  EXPECT_EQ(cluster.MasterForSlot(slot), replicas[0]) << "its replica serves the slot now";
  EXPECT_EQ(cluster.Run(replicas[0], {"GET", key}), "kept");
  EXPECT_EQ(cluster.Masters().size(), 3u);
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.Alive(i)) continue;
    EXPECT_NE(cluster.Run(i, {"CLUSTER", "INFO"}).find("cluster_state:ok"), std::string::npos)
        << "node " << i;
  }
  ExpectEveryNodeSays(cluster, slot, replicas[0]);
}

}  // namespace
}  // namespace switchboard::routing
