#include "protocol/peer_id.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard::protocol {
namespace {

using std::string_literals::operator""s;

TEST(PeerIdTest, MaxLengthIs64) { EXPECT_EQ(kMaxPeerIdLength, 64u); }

TEST(PeerIdTest, AcceptsOneCharacter) { EXPECT_TRUE(IsValidPeerId("a")); }

TEST(PeerIdTest, AcceptsMaxLength) { EXPECT_TRUE(IsValidPeerId(std::string(64, 'x'))); }

TEST(PeerIdTest, AcceptsEveryAllowedCharacter) {
  const std::string_view kClasses[] = {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz",
                                       "0123456789", "_", "-"};
  for (std::string_view allowed : kClasses) {
    EXPECT_TRUE(IsValidPeerId(allowed)) << allowed;
  }
  EXPECT_TRUE(IsValidPeerId("Alice_01-b"));
}

TEST(PeerIdTest, RejectsEmpty) { EXPECT_FALSE(IsValidPeerId("")); }

TEST(PeerIdTest, RejectsOverMaxLength) { EXPECT_FALSE(IsValidPeerId(std::string(65, 'x'))); }

TEST(PeerIdTest, RejectsCharactersOutsideTheAlphabet) {
  const std::string_view kBad[] = {"a b",  "a.b", "a/b", "caf\xc3\xa9", "a+b",  "a\"b",
                                   "a\\b", "a:b", "a@b", "a\nb",        "a\x7f"};
  for (std::string_view id : kBad) {
    EXPECT_FALSE(IsValidPeerId(id)) << id;
  }
}

TEST(PeerIdTest, RejectsBoundaryCharactersOfEachRange) {
  // The characters just outside A-Z, a-z and 0-9 in ASCII.
  for (char c : {'@', '[', '`', '{', '/', ':'}) {
    EXPECT_FALSE(IsValidPeerId(std::string(1, c))) << c;
  }
}

TEST(PeerIdTest, RejectsNulByteInside) { EXPECT_FALSE(IsValidPeerId("ab\0cd"s)); }

}  // namespace
}  // namespace switchboard::protocol
