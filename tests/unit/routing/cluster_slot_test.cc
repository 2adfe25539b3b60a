#include "routing/cluster_slot.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "redis_cluster_fixture.h"
#include "redis_server_fixture.h"

namespace switchboard::routing {
namespace {

using namespace std::string_view_literals;

// CRC16/XMODEM one bit at a time, straight from its definition: the reference the table-driven
// implementation is checked against.
uint16_t BitwiseCrc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (const char c : bytes) {
    crc ^= static_cast<uint16_t>(static_cast<unsigned char>(c) << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

// A random key of up to 24 bytes, heavy in braces so that hash tags of every shape turn up, with
// some arbitrary bytes (NUL and bytes >= 0x80 included).
std::string RandomKey(std::mt19937& random) {
  static constexpr std::string_view kAlphabet = "{}{}{}ab";
  std::uniform_int_distribution<int> length(0, 24);
  std::uniform_int_distribution<int> pick(0, 9);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string key(static_cast<size_t>(length(random)), '\0');
  for (char& c : key) {
    const int choice = pick(random);
    c = choice < static_cast<int>(kAlphabet.size()) ? kAlphabet[choice]
                                                    : static_cast<char>(byte(random));
  }
  return key;
}

TEST(KeySlotTest, Crc16CheckValue) {
  // The catalogued check value of CRC-16/XMODEM, and the empty input.
  EXPECT_EQ(Crc16Xmodem("123456789"), 0x31C3);
  EXPECT_EQ(Crc16Xmodem(""), 0);
  EXPECT_EQ(Crc16Xmodem("A"), 0x58E5);
}

TEST(KeySlotTest, Crc16TableAgreesWithBitwiseDefinition) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string one(1, static_cast<char>(byte));
    ASSERT_EQ(Crc16Xmodem(one), BitwiseCrc16(one)) << "byte " << byte;
  }
  std::mt19937 random(12345);
  for (int i = 0; i < 5000; ++i) {
    const std::string key = RandomKey(random);
    ASSERT_EQ(Crc16Xmodem(key), BitwiseCrc16(key));
  }
}

TEST(KeySlotTest, HashTagIsBetweenFirstOpenAndNextClose) {
  EXPECT_EQ(HashTagOf("{user1000}.following"), "user1000");
  EXPECT_EQ(HashTagOf("foo{bar}{zap}"), "bar");
  EXPECT_EQ(HashTagOf("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(HashTagOf("{{}}"), "{");
  EXPECT_EQ(HashTagOf("a{b}"), "b");
  EXPECT_EQ(HashTagOf("}{a}"), "a");
}

TEST(KeySlotTest, NoUsableTagMeansTheWholeKey) {
  for (std::string_view key : {""sv, "foo"sv, "{}"sv, "foo{}{bar}"sv, "{"sv, "}"sv, "{a"sv, "a}"sv,
                               "}{"sv, "{}}"sv, "a{}b{c}"sv}) {
    EXPECT_EQ(HashTagOf(key), key) << key;
    EXPECT_EQ(HashTagOf(key).data(), key.data()) << "the tag must point into the key";
  }
}

TEST(KeySlotTest, KnownSlotsFromRedisServer) {
  // Each pair was read from redis-server 7.0.15's CLUSTER KEYSLOT.
  struct Case {
    std::string_view key;
    uint16_t slot;
  };
  const Case cases[] = {
      {"123456789", 12739},
      {"", 0},
      {"{}", 15257},
      {"foo{}{bar}", 8363},
      {"{user1000}.following", 3443},
      {"{user1000}.followers", 3443},
      {"foo{{bar}}zap", 4015},
      {"{bar", 4015},
      {"foo{bar}{zap}", 5061},
      {"bar", 5061},
      {"foo", 12182},
      {"{", 4092},
      {"{{}}", 4092},
      {"}", 12090},
      {"{}}", 14790},
      {"}{a}", 15495},
      {"{a", 10276},
      {"a{b}", 3300},
      {"a{}b{c}", 7353},
      {"somekey", 11058},
      {"hello world", 15332},
      {"{ab}c{d", 13567},
      {"user:1000", 1649},
  };
  for (const Case& c : cases) EXPECT_EQ(KeySlot(c.key), c.slot) << '"' << c.key << '"';
}

TEST(KeySlotTest, KeysWithTheSameTagShareASlot) {
  EXPECT_EQ(KeySlot("{peer:42}.queue"), KeySlot("{peer:42}.owner"));
  EXPECT_EQ(KeySlot("{peer:42}.queue"), KeySlot("peer:42"));
  EXPECT_EQ(KeySlot("x{peer:42}"), KeySlot("peer:42"));
}

TEST(KeySlotTest, BinaryKeysAreHashedByteForByte) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(KeySlot(with_nul), KeySlot("a"));
  EXPECT_EQ(KeySlot(with_nul), Crc16Xmodem(with_nul) % 16384);
  const std::string tagged("{\0}x", 4);
  EXPECT_EQ(KeySlot(tagged), KeySlot(std::string_view("\0", 1)));
}

TEST(KeySlotTest, AlwaysInRange) {
  std::mt19937 random(777);
  for (int i = 0; i < 20000; ++i) ASSERT_LT(KeySlot(RandomKey(random)), kClusterSlotCount);
}

// The same answers as a real cluster-enabled redis-server, for random keys full of braces.
TEST(KeySlotTest, AgreesWithRealRedisClusterKeyslot) {
  // One cluster-enabled node and no slots: CLUSTER KEYSLOT needs no more, and a node that serves
  // nothing is ready at once (a master says cluster_state:ok 2 s after its start at the earliest).
  RedisCluster cluster;
  std::string error;
  ASSERT_TRUE(cluster.StartWithSlots({{}}, &error)) << error;

  RedisClient client(cluster.Port(0));
  ASSERT_TRUE(client.ok()) << client.error();
  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  int compared = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = RandomKey(random);
    const std::string answer = client.Run({"CLUSTER", "KEYSLOT", key});
    ASSERT_EQ(answer, std::to_string(KeySlot(key)))
        << "seed " << seed << ", key #" << i << " of " << key.size() << " bytes";
    ++compared;
  }
  EXPECT_EQ(compared, 2000);
}

}  // namespace
}  // namespace switchboard::routing
