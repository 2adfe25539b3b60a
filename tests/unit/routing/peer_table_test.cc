#include "routing/peer_table.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard::routing {
namespace {

using std::string_literals::operator""s;

// PeerTable only stores connections; it never calls them.
class InertConnection : public PeerConnection {
 public:
  void Deliver(RoutedFrame, const FrameOrigin&) override {}
  void NotifyUndeliverable(std::string_view, Undeliverable, std::string_view) override {}
  void Evict(Eviction) override {}
};

class PeerTableTest : public testing::Test {
 protected:
  // Expects `peer` to be held by `connection` with `token`.
  void ExpectHeld(std::string_view peer, const PeerConnection* connection, std::string_view token) {
    const PeerTable::Entry* entry = table_.Find(peer);
    ASSERT_NE(entry, nullptr) << peer;
    EXPECT_EQ(entry->connection, connection) << peer;
    EXPECT_EQ(entry->token, token) << peer;
  }

  PeerTable table_;
  InertConnection first_;
  InertConnection second_;
};

TEST_F(PeerTableTest, StartsEmpty) {
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.Find("alice"), nullptr);
}

TEST_F(PeerTableTest, FindsWhatWasSet) {
  table_.Set("alice", &first_, "secret");
  table_.Set("bob", &second_, "");
  EXPECT_EQ(table_.size(), 2u);
  ExpectHeld("alice", &first_, "secret");
  ExpectHeld("bob", &second_, "");
  EXPECT_EQ(table_.Find("carol"), nullptr);
  EXPECT_EQ(table_.Find("Alice"), nullptr);
}

TEST_F(PeerTableTest, FindTakesAViewIntoALargerString) {
  table_.Set(std::string_view("alice-and-more").substr(0, 5), &first_, "t");
  ExpectHeld(std::string_view("alice:extra").substr(0, 5), &first_, "t");
  EXPECT_EQ(table_.Find("alice-and-more"), nullptr);
}

TEST_F(PeerTableTest, SetReplacesTheEntry) {
  table_.Set("alice", &first_, "old");
  table_.Set("alice", &second_, "new");
  EXPECT_EQ(table_.size(), 1u);
  ExpectHeld("alice", &second_, "new");
}

TEST_F(PeerTableTest, EraseIfHeldByTheHolderRemovesIt) {
  table_.Set("alice", &first_, "t");
  table_.Set("bob", &second_, "t");
  EXPECT_TRUE(table_.EraseIfHeldBy("alice", &first_));
  EXPECT_EQ(table_.Find("alice"), nullptr);
  EXPECT_EQ(table_.size(), 1u);
  ExpectHeld("bob", &second_, "t");
}

TEST_F(PeerTableTest, EraseIfHeldByAnotherConnectionKeepsIt) {
  table_.Set("alice", &first_, "t");
  EXPECT_FALSE(table_.EraseIfHeldBy("alice", &second_));
  EXPECT_FALSE(table_.EraseIfHeldBy("alice", nullptr));
  EXPECT_EQ(table_.size(), 1u);
  ExpectHeld("alice", &first_, "t");
}

TEST_F(PeerTableTest, EraseIfHeldByAfterTakeoverKeepsTheNewHolder) {
  table_.Set("alice", &first_, "t");
  table_.Set("alice", &second_, "t");
  EXPECT_FALSE(table_.EraseIfHeldBy("alice", &first_));
  ExpectHeld("alice", &second_, "t");
}

TEST_F(PeerTableTest, EraseIfHeldByOfAnAbsentPeerDoesNothing) {
  table_.Set("alice", &first_, "t");
  EXPECT_FALSE(table_.EraseIfHeldBy("bob", &first_));
  EXPECT_EQ(table_.size(), 1u);
}

TEST(TokenAllowsTakeoverTest, EmptyHeldTokenNeverAllows) {
  EXPECT_FALSE(TokenAllowsTakeover("", ""));
  EXPECT_FALSE(TokenAllowsTakeover("", "secret"));
}

TEST(TokenAllowsTakeoverTest, EmptyPresentedTokenDoesNotAllow) {
  EXPECT_FALSE(TokenAllowsTakeover("secret", ""));
}

TEST(TokenAllowsTakeoverTest, MismatchDoesNotAllow) {
  EXPECT_FALSE(TokenAllowsTakeover("secret", "Secret"));
  EXPECT_FALSE(TokenAllowsTakeover("secret", "secreT"));
  EXPECT_FALSE(TokenAllowsTakeover("secret", "sec\0et"s));
}

TEST(TokenAllowsTakeoverTest, DifferentLengthsDoNotAllow) {
  EXPECT_FALSE(TokenAllowsTakeover("secret", "secret2"));
  EXPECT_FALSE(TokenAllowsTakeover("secret", "secre"));
  EXPECT_FALSE(TokenAllowsTakeover("secret", "secret\0"s));
}

TEST(TokenAllowsTakeoverTest, EqualTokensAllow) {
  EXPECT_TRUE(TokenAllowsTakeover("secret", "secret"));
  EXPECT_TRUE(TokenAllowsTakeover("x", "x"));
  EXPECT_TRUE(TokenAllowsTakeover("a\0b\xff"s, "a\0b\xff"s));
  EXPECT_TRUE(TokenAllowsTakeover(std::string(256, 'k'), std::string(256, 'k')));
}

}  // namespace
}  // namespace switchboard::routing
