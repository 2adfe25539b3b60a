#include "bench/load/wire_format.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/native_protocol.h"
#include "protocol/peerjs_protocol.h"

namespace switchboard::bench {
namespace {

std::string Encode(Dialect dialect, MessageKind kind, std::string_view to, uint64_t t, uint64_t s,
                   size_t bytes) {
  std::string out(bytes + 512, '\0');
  out.resize(EncodeRelay(dialect, kind, to, t, s, bytes, out.data(), out.size()));
  return out;
}

TEST(WireFormatTest, DialectNamesRoundTrip) {
  for (Dialect d : {Dialect::kNative, Dialect::kPeerJs, Dialect::kRaw}) {
    EXPECT_EQ(ParseDialect(DialectName(d)), d);
  }
  EXPECT_FALSE(ParseDialect("websocket").has_value());
}

TEST(WireFormatTest, HandshakePaths) {
  const PeerJsMount mount{"/signal/", "k"};
  EXPECT_EQ(HandshakePath(Dialect::kNative, mount, "p-1", "x"), "/ws?peer=p-1");
  EXPECT_EQ(HandshakePath(Dialect::kPeerJs, mount, "p-1", "x"),
            "/signal/peerjs?key=k&id=p-1&token=tp-1");
  EXPECT_EQ(HandshakePath(Dialect::kRaw, mount, "p-1", "x"), "/relay?pair=x");
}

// What the generator sends must be what the servers accept: Switchboard's own parsers say so.
TEST(WireFormatTest, NativeFramesParseAsTheServerSeesThem) {
  const std::string frame = Encode(Dialect::kNative, MessageKind::kAnswer, "peer-2", 123, 4, 2048);
  EXPECT_EQ(frame.size(), 2048u);
  protocol::NativeParser parser;
  protocol::ClientMessage message;
  protocol::ParseError error;
  ASSERT_TRUE(parser.Parse(frame, &message, &error)) << error.message;
  EXPECT_EQ(message.type, protocol::MessageType::kAnswer);
  EXPECT_EQ(message.to, "peer-2");
  EXPECT_TRUE(message.payload.starts_with(R"({"t":123,"s":4,"d":"xxx)"));
}

TEST(WireFormatTest, PeerJsFramesParseAsTheServerSeesThem) {
  const std::string frame = Encode(Dialect::kPeerJs, MessageKind::kCandidate, "p-9", 1, 2, 250);
  EXPECT_EQ(frame.size(), 250u);
  protocol::PeerJsParser parser;
  protocol::PeerJsMessage message;
  ASSERT_EQ(parser.Parse(frame, &message), protocol::PeerJsParse::kMessage);
  EXPECT_EQ(message.type, protocol::PeerJsType::kCandidate);
  EXPECT_EQ(message.dst, "p-9");
}

TEST(WireFormatTest, SmallRequestsGiveTheSmallestFrame) {
  const std::string frame = Encode(Dialect::kNative, MessageKind::kOffer, "b", 1, 1, 10);
  EXPECT_EQ(frame, R"({"type":"offer","to":"b","payload":{"t":1,"s":1,"d":""}})");
  EXPECT_LE(frame.size(), MinimumRelayFrameBytes(Dialect::kNative, 1));
}

TEST(WireFormatTest, TooSmallABufferWritesNothing) {
  char buffer[40];
  EXPECT_EQ(EncodeRelay(Dialect::kNative, MessageKind::kOffer, "b", 1, 1, 300, buffer, 40), 0u);
}

// The server rewrites the envelope; the stamp must survive in both dialects.
TEST(WireFormatTest, DecodesRelayedFramesFromEitherServer) {
  const std::string sent = Encode(Dialect::kNative, MessageKind::kOffer, "b", 987654321, 42, 300);
  const std::string payload =
      sent.substr(sent.find(R"({"t")"), sent.size() - 1 - sent.find(R"({"t")"));
  const protocol::Frame native =
      protocol::BuildRelayFrame(protocol::MessageType::kOffer, "a", "b", payload);
  const protocol::Frame peerjs =
      protocol::BuildPeerJsRelayFrame(protocol::PeerJsType::kOffer, "a", "b", payload);
  // The PeerJS server puts src last: {"type":...,"dst":...,"payload":...,"src":...}.
  const std::string peer_server =
      R"({"type":"OFFER","dst":"b","payload":)" + payload + R"(,"src":"a"})";
  for (std::string_view frame :
       {native.body(), peerjs.body(), std::string_view(peer_server), std::string_view(sent)}) {
    const Incoming in = DecodeFrameHead(frame.substr(0, kFrameHeadBytes));
    EXPECT_EQ(in.event, Incoming::Event::kRelayed) << frame;
    EXPECT_EQ(in.kind, MessageKind::kOffer) << frame;
    EXPECT_EQ(in.sent_ns, 987654321u) << frame;
    EXPECT_EQ(in.seq, 42u) << frame;
  }
}

TEST(WireFormatTest, DecodesServerNotices) {
  EXPECT_EQ(DecodeFrameHead(R"({"type":"welcome","peer":"a","pod":"p"})").event,
            Incoming::Event::kRegistered);
  EXPECT_EQ(DecodeFrameHead(R"({"type":"OPEN"})").event, Incoming::Event::kRegistered);
  EXPECT_EQ(DecodeFrameHead(R"({"type":"error","code":"peer-unavailable","to":"b"})").event,
            Incoming::Event::kErrorNotice);
  EXPECT_EQ(DecodeFrameHead(R"({"type":"EXPIRE","src":"b","dst":"a"})").event,
            Incoming::Event::kErrorNotice);
  EXPECT_EQ(DecodeFrameHead(R"({"type":"pong"})").event, Incoming::Event::kPong);
  EXPECT_EQ(DecodeFrameHead(R"({"type":"LEAVE","src":"b"})").event, Incoming::Event::kOther);
  EXPECT_EQ(DecodeFrameHead("not json").event, Incoming::Event::kOther);
  // A relayed type without a stamp is not one of ours.
  EXPECT_EQ(DecodeFrameHead(R"({"type":"offer","from":"a","payload":{"sdp":"v=0"}})").event,
            Incoming::Event::kOther);
}

TEST(WireFormatTest, HeartbeatsPerDialect) {
  EXPECT_EQ(HeartbeatFrame(Dialect::kNative), R"({"type":"ping"})");
  EXPECT_EQ(HeartbeatFrame(Dialect::kPeerJs), R"({"type":"HEARTBEAT"})");
  EXPECT_TRUE(HeartbeatFrame(Dialect::kRaw).empty());
}

}  // namespace
}  // namespace switchboard::bench
