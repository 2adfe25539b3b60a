#include "server/handshake_query.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {
namespace {

struct Result {
  bool ok = false;
  NativeQuery query;
  std::string_view reason;
  std::string error;
};

Result Read(const std::vector<std::string>& arguments, std::string_view authorization = "") {
  Result result;
  result.ok =
      ReadNativeQuery(arguments, authorization, &result.query, &result.reason, &result.error);
  return result;
}

TEST(NativeQueryTest, NothingAskedForIsNothingRead) {
  const Result result = Read({});
  ASSERT_TRUE(result.ok);
  EXPECT_FALSE(result.query.peer.has_value());
  EXPECT_EQ(result.query.resume_token, "");
  EXPECT_FALSE(result.query.access_token.has_value());
}

TEST(NativeQueryTest, ReadsEachArgument) {
  const Result result = Read({"peer=alice", "token=resume-1", "access_token=jwt.jwt.jwt"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.peer, "alice");
  EXPECT_EQ(result.query.resume_token, "resume-1");
  EXPECT_EQ(result.query.access_token, "jwt.jwt.jwt");
}

TEST(NativeQueryTest, FirstPeerWins) {
  const Result result = Read({"peer=alice", "peer=bob"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.peer, "alice");
}

TEST(NativeQueryTest, PeersAfterTheFirstAreNotChecked) {
  const Result result = Read({"peer=alice", "peer=not valid!"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.peer, "alice");
}

TEST(NativeQueryTest, LastTokenWins) {
  const Result result = Read({"token=first", "token=second", "token=third"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.resume_token, "third");
}

TEST(NativeQueryTest, LastAccessTokenWins) {
  const Result result = Read({"access_token=first", "access_token=second"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.access_token, "second");
}

TEST(NativeQueryTest, OtherArgumentsAreIgnored) {
  const Result result = Read({"peerx=bob", "xpeer=bob", "peer", "tokens=x", "access_tokens=y",
                              "PEER=bob", "=", "", "mode=native"});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.query.peer.has_value());
  EXPECT_EQ(result.query.resume_token, "");
  EXPECT_FALSE(result.query.access_token.has_value());
}

TEST(NativeQueryTest, BearerHeaderIsUsedWithoutAccessToken) {
  const Result result = Read({"peer=alice"}, "Bearer header.jwt.token");
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.access_token, "header.jwt.token");
}

TEST(NativeQueryTest, AccessTokenArgumentBeatsTheBearerHeader) {
  const Result result = Read({"access_token=query.jwt.token"}, "Bearer header.jwt.token");
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.access_token, "query.jwt.token");
}

TEST(NativeQueryTest, BearerSchemeIsCaseInsensitive) {
  for (std::string_view header : {"Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc"}) {
    const Result result = Read({}, header);
    ASSERT_TRUE(result.ok) << header;
    EXPECT_EQ(result.query.access_token, "abc") << header;
  }
}

TEST(NativeQueryTest, SpacesAroundTheBearerTokenAreDropped) {
  const Result result = Read({}, "Bearer    abc  ");
  ASSERT_TRUE(result.ok);
  EXPECT_EQ(result.query.access_token, "abc");
}

TEST(NativeQueryTest, OtherAuthorizationIsNoToken) {
  for (std::string_view header : {"", "Bearer", "Bearer ", "Bearer    ", "Bearerabc",
                                  "Basic YWxpY2U6cHc=", "Token abc", "Bear abc", " Bearer abc"}) {
    const Result result = Read({}, header);
    ASSERT_TRUE(result.ok) << header;
    EXPECT_FALSE(result.query.access_token.has_value()) << header;
  }
}

TEST(NativeQueryTest, InvalidPeerIdIsRefused) {
  for (const std::string& peer :
       {std::string("peer="), std::string("peer=not valid"), std::string("peer=a/b"),
        std::string("peer=caf\xc3\xa9"), "peer=" + std::string(65, 'a')}) {
    const Result result = Read({peer});
    EXPECT_FALSE(result.ok) << peer;
    EXPECT_EQ(result.reason, "bad-peer-id") << peer;
    EXPECT_FALSE(result.error.empty()) << peer;
  }
}

TEST(NativeQueryTest, FirstPeerInvalidIsRefusedEvenWithAValidOneAfter) {
  const Result result = Read({"peer=bad id", "peer=alice"});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.reason, "bad-peer-id");
}

TEST(NativeQueryTest, LongestPeerIdIsAccepted) {
  const std::string id(64, 'a');
  const Result result = Read({"peer=" + id});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.query.peer, id);
  EXPECT_TRUE(Read({"peer=A-z_09"}).ok);
}

TEST(NativeQueryTest, TooLongTokenIsRefused) {
  const Result ok = Read({"token=" + std::string(256, 't')});
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.query.resume_token.size(), 256u);

  const Result result = Read({"peer=alice", "token=" + std::string(257, 't')});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.reason, "bad-token");
  EXPECT_FALSE(result.error.empty());
}

TEST(NativeQueryTest, TooLongTokenIsRefusedEvenIfALaterOneFits) {
  const Result result = Read({"token=" + std::string(300, 't'), "token=short"});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.reason, "bad-token");
}

}  // namespace
}  // namespace switchboard::server
