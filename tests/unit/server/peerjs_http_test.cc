#include "server/peerjs_http.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

TEST(PeerJsHttpTest, InfoAtTheMountWithOrWithoutTrailingSlash) {
  EXPECT_EQ(MatchPeerJsHttp("/", "/"), PeerJsHttpRoute::kInfo);
  EXPECT_EQ(MatchPeerJsHttp("/myapp", "/myapp/"), PeerJsHttpRoute::kInfo);
  EXPECT_EQ(MatchPeerJsHttp("/myapp/", "/myapp/"), PeerJsHttpRoute::kInfo);
}

TEST(PeerJsHttpTest, IdAndPeersUnderAnyKey) {
  EXPECT_EQ(MatchPeerJsHttp("/peerjs/id", "/"), PeerJsHttpRoute::kId);
  EXPECT_EQ(MatchPeerJsHttp("/anykey/id/", "/"), PeerJsHttpRoute::kId);
  EXPECT_EQ(MatchPeerJsHttp("/peerjs/peers", "/"), PeerJsHttpRoute::kPeers);
  EXPECT_EQ(MatchPeerJsHttp("/myapp/peerjs/id", "/myapp/"), PeerJsHttpRoute::kId);
}

TEST(PeerJsHttpTest, EverythingElseIsNotPeerJs) {
  for (const char* path : {"/healthz", "/metrics", "/ws", "/peerjs", "//id", "/peerjs/other",
                           "/a/b/id", "/other/peerjs/id"}) {
    EXPECT_FALSE(MatchPeerJsHttp(path, path == std::string("/other/peerjs/id") ? "/myapp/" : "/"))
        << path;
  }
  EXPECT_FALSE(MatchPeerJsHttp("/", "/myapp/"));
}

TEST(PeerJsHttpTest, WebSocketPathIsMountPlusPeerjs) {
  EXPECT_EQ(PeerJsWebSocketPath("/"), "/peerjs");
  EXPECT_EQ(PeerJsWebSocketPath("/myapp/"), "/myapp/peerjs");
}

TEST(PeerJsHttpTest, UuidHasVersionAndVariantBits) {
  std::array<uint8_t, 16> zeros{};
  EXPECT_EQ(FormatUuidV4(zeros), "00000000-0000-4000-8000-000000000000");
  std::array<uint8_t, 16> ones;
  ones.fill(0xff);
  EXPECT_EQ(FormatUuidV4(ones), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

}  // namespace
}  // namespace switchboard::server
