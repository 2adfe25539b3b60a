#include "protocol/peerjs_protocol.h"

#include <gtest/gtest.h>
#include <json/json.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame.h"
#include "protocol/json_document.h"
#include "protocol/peer_id.h"

namespace switchboard::protocol {
namespace {

using std::string_literals::operator""s;

constexpr std::string_view kKey = "peerjs";
constexpr std::string_view kMissing = "No id, token, or key supplied to websocket server";
constexpr std::string_view kBadKey = "Invalid key provided";
constexpr std::string_view kBadToken = "Invalid token provided";

constexpr PeerJsType kAllTypes[] = {PeerJsType::kOffer,     PeerJsType::kAnswer,
                                    PeerJsType::kCandidate, PeerJsType::kLeave,
                                    PeerJsType::kExpire,    PeerJsType::kHeartbeat};

constexpr PeerJsType kRelayedTypes[] = {PeerJsType::kOffer, PeerJsType::kAnswer,
                                        PeerJsType::kCandidate, PeerJsType::kLeave,
                                        PeerJsType::kExpire};

// A 36-character lowercase UUID, as the server hands out.
constexpr std::string_view kUuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

// Parses `json` with jsoncpp in strict mode; fails the test if it is not a JSON value.
Json::Value ParseJson(std::string_view json) {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  EXPECT_TRUE(reader->parse(json.data(), json.data() + json.size(), &value, &errors))
      << json << ": " << errors;
  return value;
}

// --- Ids ---------------------------------------------------------------------------------------

TEST(PeerJsIdTest, AcceptsTheWholeAlphabet) {
  EXPECT_TRUE(IsValidPeerJsId("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  EXPECT_TRUE(IsValidPeerJsId("abcdefghijklmnopqrstuvwxyz"));
  EXPECT_TRUE(IsValidPeerJsId("0123456789"));
  EXPECT_TRUE(IsValidPeerJsId("a_b-c"));
  EXPECT_TRUE(IsValidPeerJsId("_"));
  EXPECT_TRUE(IsValidPeerJsId("-"));
  EXPECT_TRUE(IsValidPeerJsId("x"));
}

TEST(PeerJsIdTest, AcceptsSpaces) {
  EXPECT_TRUE(IsValidPeerJsId("peer a"));
  EXPECT_TRUE(IsValidPeerJsId("my  peer   id"));
  EXPECT_TRUE(IsValidPeerJsId(" leading and trailing "));
  EXPECT_TRUE(IsValidPeerJsId(" "));
}

TEST(PeerJsIdTest, AcceptsALowercaseUuid) {
  ASSERT_EQ(kUuid.size(), 36u);
  EXPECT_TRUE(IsValidPeerJsId(kUuid));
}

TEST(PeerJsIdTest, AcceptsUpTo64Characters) {
  EXPECT_TRUE(IsValidPeerJsId(std::string(kMaxPeerJsIdLength, 'a')));
  EXPECT_TRUE(IsValidPeerJsId(std::string(64, ' ')));
  EXPECT_FALSE(IsValidPeerJsId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidPeerJsId(std::string(1000, 'a')));
}

TEST(PeerJsIdTest, RefusesEmpty) { EXPECT_FALSE(IsValidPeerJsId("")); }

TEST(PeerJsIdTest, RefusesCharactersOutsideTheAlphabet) {
  for (std::string_view id : {"a\"b", "a\\b", "a+b", "~a", "a~", "a.b", "a/b", "a:b", "a@b", "a\tb",
                              "a\nb", "a=b", "a&b", "a%20b", "a!"}) {
    EXPECT_FALSE(IsValidPeerJsId(id)) << id;
  }
  EXPECT_FALSE(IsValidPeerJsId("a\0b"s));
  EXPECT_FALSE(IsValidPeerJsId("\x7f"));
}

TEST(PeerJsIdTest, RefusesNonAscii) {
  EXPECT_FALSE(IsValidPeerJsId("caf\xc3\xa9"));
  EXPECT_FALSE(IsValidPeerJsId("\xe2\x82\xac"));
  EXPECT_FALSE(IsValidPeerJsId("\xff"));
}

// --- Routing keys ------------------------------------------------------------------------------

TEST(PeerJsRoutingKeyTest, MarksTheIdAndReplacesSpaces) {
  EXPECT_EQ(PeerJsRoutingKey("alice"), "~alice");
  EXPECT_EQ(PeerJsRoutingKey("peer a"), "~peer+a");
  EXPECT_EQ(PeerJsRoutingKey(" a  b "), "~+a++b+");
  EXPECT_EQ(PeerJsRoutingKey(kUuid), "~" + std::string(kUuid));
}

TEST(PeerJsRoutingKeyTest, RoundTrips) {
  const std::string kIds[] = {"alice",
                              "peer a",
                              " a  b ",
                              " ",
                              std::string(kUuid),
                              "A_b-9",
                              std::string(64, ' '),
                              std::string(64, 'z')};
  for (const std::string& id : kIds) {
    const std::optional<std::string> back = PeerJsIdFromRoutingKey(PeerJsRoutingKey(id));
    ASSERT_TRUE(back.has_value()) << id;
    EXPECT_EQ(*back, id);
  }
}

TEST(PeerJsRoutingKeyTest, NeverHasASpaceNorEqualsAValidNativeId) {
  const std::string kIds[] = {"alice",
                              "peer a",
                              " a  b ",
                              " ",
                              std::string(kUuid),
                              "A_b-9",
                              std::string(64, ' '),
                              std::string(64, 'z'),
                              "-",
                              "_"};
  for (const std::string& id : kIds) {
    ASSERT_TRUE(IsValidPeerJsId(id)) << id;
    const std::string key = PeerJsRoutingKey(id);
    EXPECT_EQ(key.find(' '), std::string::npos) << key;
    EXPECT_FALSE(IsValidPeerId(key)) << key;
  }
}

TEST(PeerJsRoutingKeyTest, NativeIdsAreNotPeerJsKeys) {
  for (std::string_view key : {"alice", "a", "A_b-9", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}) {
    ASSERT_TRUE(IsValidPeerId(key)) << key;
    EXPECT_EQ(PeerJsIdFromRoutingKey(key), std::nullopt) << key;
  }
  EXPECT_EQ(PeerJsIdFromRoutingKey(std::string(64, 'z')), std::nullopt);
}

TEST(PeerJsRoutingKeyTest, TheBareMarkIsNotAKey) {
  EXPECT_EQ(PeerJsIdFromRoutingKey("~"), std::nullopt);
  EXPECT_EQ(PeerJsIdFromRoutingKey(""), std::nullopt);
}

TEST(PeerJsRoutingKeyTest, KeysThatNoValidIdMakesAreNotKeys) {
  EXPECT_EQ(PeerJsIdFromRoutingKey("~a\"b"), std::nullopt);
  EXPECT_EQ(PeerJsIdFromRoutingKey("~a b"), std::nullopt);
  EXPECT_EQ(PeerJsIdFromRoutingKey("~" + std::string(65, 'a')), std::nullopt);
}

// --- Handshake ---------------------------------------------------------------------------------

class PeerJsHandshakeTest : public testing::Test {
 protected:
  // Reads `arguments` against kKey; the refusal message, or nullopt. Fills handshake_.
  std::optional<std::string> Read(const std::vector<std::string_view>& arguments) {
    handshake_ = PeerJsHandshake();
    return ReadPeerJsHandshake(arguments, kKey, &handshake_);
  }

  PeerJsHandshake handshake_;
};

TEST_F(PeerJsHandshakeTest, AcceptsKeyIdAndToken) {
  EXPECT_EQ(Read({"key=peerjs", "id=peer a", "token=abc123"}), std::nullopt);
  EXPECT_EQ(handshake_.key, "peerjs");
  EXPECT_EQ(handshake_.id, "peer a");
  EXPECT_EQ(handshake_.token, "abc123");
}

TEST_F(PeerJsHandshakeTest, AcceptsArgumentsInAnyOrder) {
  EXPECT_EQ(Read({"token=t", "id=" + std::string(kUuid), "key=peerjs"}), std::nullopt);
  EXPECT_EQ(handshake_.id, kUuid);
  EXPECT_EQ(handshake_.token, "t");
}

TEST_F(PeerJsHandshakeTest, RefusesAMissingKeyIdOrToken) {
  EXPECT_EQ(Read({"id=a", "token=t"}), kMissing);
  EXPECT_EQ(Read({"key=peerjs", "token=t"}), kMissing);
  EXPECT_EQ(Read({"key=peerjs", "id=a"}), kMissing);
  EXPECT_EQ(Read({}), kMissing);
}

TEST_F(PeerJsHandshakeTest, RefusesAnEmptyKeyIdOrToken) {
  EXPECT_EQ(Read({"key=", "id=a", "token=t"}), kMissing);
  EXPECT_EQ(Read({"key=peerjs", "id=", "token=t"}), kMissing);
  EXPECT_EQ(Read({"key=peerjs", "id=a", "token="}), kMissing);
}

TEST_F(PeerJsHandshakeTest, RefusesAWrongKey) {
  EXPECT_EQ(Read({"key=other", "id=a", "token=t"}), kBadKey);
  EXPECT_EQ(Read({"key=peerjsx", "id=a", "token=t"}), kBadKey);
  EXPECT_EQ(Read({"key=PEERJS", "id=a", "token=t"}), kBadKey);
}

TEST_F(PeerJsHandshakeTest, RefusesAnInvalidId) {
  const std::string too_long = "id=" + std::string(65, 'a');
  const std::string_view kIds[] = {"id=a+b", "id=a\"b",        "id=a\\b",
                                   "id=~a",  "id=caf\xc3\xa9", too_long};
  for (std::string_view id : kIds) {
    const std::optional<std::string> error = Read({"key=peerjs", id, "token=t"});
    ASSERT_TRUE(error.has_value()) << id;
    EXPECT_TRUE(error->starts_with("Invalid id")) << id << ": " << *error;
  }
}

TEST_F(PeerJsHandshakeTest, AcceptsAnIdOf64Characters) {
  const std::string id = "id=" + std::string(64, 'a');
  EXPECT_EQ(Read({"key=peerjs", id, "token=t"}), std::nullopt);
  EXPECT_EQ(handshake_.id, std::string(64, 'a'));
}

TEST_F(PeerJsHandshakeTest, RefusesATokenOver256Bytes) {
  const std::string ok = "token=" + std::string(256, 't');
  const std::string too_long = "token=" + std::string(257, 't');
  EXPECT_EQ(Read({"key=peerjs", "id=a", ok}), std::nullopt);
  EXPECT_EQ(Read({"key=peerjs", "id=a", too_long}), kBadToken);
}

TEST_F(PeerJsHandshakeTest, LastRepeatedArgumentWins) {
  EXPECT_EQ(Read({"key=wrong", "key=peerjs", "id=a", "id=b", "token=1", "token=2"}), std::nullopt);
  EXPECT_EQ(handshake_.key, "peerjs");
  EXPECT_EQ(handshake_.id, "b");
  EXPECT_EQ(handshake_.token, "2");

  EXPECT_EQ(Read({"key=peerjs", "key=wrong", "id=a", "token=t"}), kBadKey);
  EXPECT_EQ(Read({"key=peerjs", "id=a", "id=", "token=t"}), kMissing);
}

TEST_F(PeerJsHandshakeTest, IgnoresOtherArguments) {
  EXPECT_EQ(Read({"key=peerjs", "version=1.5.5", "id=a", "token=t", "ID=x", "keys=y"}),
            std::nullopt);
  EXPECT_EQ(handshake_.key, "peerjs");
  EXPECT_EQ(handshake_.id, "a");
}

TEST_F(PeerJsHandshakeTest, IgnoresArgumentsWithoutEquals) {
  EXPECT_EQ(Read({"key=peerjs", "id", "id=a", "token=t", "token", "junk", ""}), std::nullopt);
  EXPECT_EQ(handshake_.id, "a");
  EXPECT_EQ(handshake_.token, "t");
  EXPECT_EQ(Read({"key", "id", "token"}), kMissing);
}

TEST_F(PeerJsHandshakeTest, ValueIsEverythingAfterTheFirstEquals) {
  EXPECT_EQ(Read({"key=peerjs", "id=a", "token=a=b=="}), std::nullopt);
  EXPECT_EQ(handshake_.token, "a=b==");
  EXPECT_EQ(Read({"key==peerjs", "id=a", "token=t"}), kBadKey);
  EXPECT_EQ(handshake_.key, "=peerjs");
}

// --- Types -------------------------------------------------------------------------------------

TEST(PeerJsTypeTest, WireNames) {
  EXPECT_EQ(PeerJsTypeName(PeerJsType::kOffer), "OFFER");
  EXPECT_EQ(PeerJsTypeName(PeerJsType::kAnswer), "ANSWER");
  EXPECT_EQ(PeerJsTypeName(PeerJsType::kCandidate), "CANDIDATE");
  EXPECT_EQ(PeerJsTypeName(PeerJsType::kLeave), "LEAVE");
  EXPECT_EQ(PeerJsTypeName(PeerJsType::kExpire), "EXPIRE");
  EXPECT_EQ(PeerJsTypeName(PeerJsType::kHeartbeat), "HEARTBEAT");
}

TEST(PeerJsTypeTest, OnlyLeaveAndExpireAreDroppedWhenAbsent) {
  for (PeerJsType type : kAllTypes) {
    EXPECT_EQ(IsDroppedWhenAbsent(type), type == PeerJsType::kLeave || type == PeerJsType::kExpire)
        << PeerJsTypeName(type);
  }
}

// --- Parser ------------------------------------------------------------------------------------

class PeerJsParserTest : public testing::Test {
 protected:
  // Parses `text`, which must be a message. `text` must outlive the returned views.
  PeerJsMessage ParseOk(std::string_view text) {
    PeerJsMessage message;
    EXPECT_EQ(parser_.Parse(text, &message), PeerJsParse::kMessage) << text;
    return message;
  }

  // What Parse made of `text`.
  PeerJsParse ParseResult(std::string_view text) {
    PeerJsMessage message;
    return parser_.Parse(text, &message);
  }

  PeerJsParser parser_;
};

TEST_F(PeerJsParserTest, ParsesEveryRelayedType) {
  for (PeerJsType type : kRelayedTypes) {
    const std::string text = R"({"type":")" + std::string(PeerJsTypeName(type)) +
                             R"(","dst":"bob_01-X","payload":{"k":1}})";
    const PeerJsMessage message = ParseOk(text);
    EXPECT_EQ(message.type, type) << text;
    EXPECT_EQ(message.dst, "bob_01-X") << text;
    EXPECT_EQ(message.payload, R"({"k":1})") << text;
  }
}

TEST_F(PeerJsParserTest, PayloadIsTheExactRawBytes) {
  const std::string_view kPayloads[] = {
      R"({"sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","type":"offer"})",
      "{ \"a\" :\t[ 1 ,2,\n{ } ] ,\"b\":{\"c\":{\"d\":[]}} }",
      R"({"candidate":"candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host","sdpMid":"0"})",
      R"("esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00")",
      "-12.5e+3",
      "[]",
      "true",
      "\"caf\xc3\xa9\"",
  };
  for (std::string_view payload : kPayloads) {
    const std::string text =
        R"({"type":"CANDIDATE","dst":"peer b","payload":)" + std::string(payload) + "}";
    const PeerJsMessage message = ParseOk(text);
    EXPECT_EQ(message.payload, payload) << text;
    EXPECT_EQ(message.dst, "peer b") << text;
  }
}

TEST_F(PeerJsParserTest, PayloadSliceExcludesSurroundingWhitespace) {
  const std::string text =
      "{ \"payload\" :  \t\n { \"a\" : [ 1 ,\n 2 ] } \r\n , \"dst\" : \"b\" , \"type\" : \"OFFER\" "
      "}";
  const PeerJsMessage message = ParseOk(text);
  EXPECT_EQ(message.type, PeerJsType::kOffer);
  EXPECT_EQ(message.dst, "b");
  EXPECT_EQ(message.payload, "{ \"a\" : [ 1 ,\n 2 ] }");
}

TEST_F(PeerJsParserTest, AbsentPayloadIsEmpty) {
  const PeerJsMessage message = ParseOk(R"({"type":"LEAVE","dst":"bob"})");
  EXPECT_EQ(message.type, PeerJsType::kLeave);
  EXPECT_EQ(message.dst, "bob");
  EXPECT_TRUE(message.payload.empty());
}

TEST_F(PeerJsParserTest, NullPayloadIsNull) {
  const PeerJsMessage message = ParseOk(R"({"type":"EXPIRE","dst":"bob","payload":null})");
  EXPECT_EQ(message.type, PeerJsType::kExpire);
  EXPECT_EQ(message.payload, "null");
}

TEST_F(PeerJsParserTest, HeartbeatHasNoTarget) {
  PeerJsMessage message = ParseOk(R"({"type":"HEARTBEAT"})");
  EXPECT_EQ(message.type, PeerJsType::kHeartbeat);
  EXPECT_TRUE(message.dst.empty());
  EXPECT_TRUE(message.payload.empty());

  // A dst or payload on a heartbeat, even an invalid one, is not looked at.
  message = ParseOk(R"({"type":"HEARTBEAT","dst":"not valid!","payload":{"x":1}})");
  EXPECT_EQ(message.type, PeerJsType::kHeartbeat);
  EXPECT_TRUE(message.dst.empty());
  EXPECT_TRUE(message.payload.empty());
}

TEST_F(PeerJsParserTest, IgnoresClientSentSrcAndUnknownMembers) {
  PeerJsMessage message =
      ParseOk(R"({"type":"OFFER","src":"mallory","dst":"bob","payload":1,"extra":[{}]})");
  EXPECT_EQ(message.type, PeerJsType::kOffer);
  EXPECT_EQ(message.dst, "bob");
  EXPECT_EQ(message.payload, "1");

  // Even an ill-typed or invalid src is ignored.
  message = ParseOk(R"({"type":"ANSWER","src":{"x":1},"dst":"bob","payload":2})");
  EXPECT_EQ(message.dst, "bob");
  EXPECT_EQ(message.payload, "2");
  message = ParseOk(R"({"src":"bad\"id!","type":"LEAVE","dst":"bob"})");
  EXPECT_EQ(message.type, PeerJsType::kLeave);
  EXPECT_EQ(message.dst, "bob");
}

TEST_F(PeerJsParserTest, DstIsTheDecodedString) {
  const PeerJsMessage message = ParseOk(R"({"type":"OFFER","dst":"peer\u0020a","payload":1})");
  EXPECT_EQ(message.dst, "peer a");
  EXPECT_EQ(ParseOk(R"({"type":"LEAVE","dst":"b\u006fb"})").dst, "bob");
}

TEST_F(PeerJsParserTest, AcceptsDstOfMaxLength) {
  const std::string dst(64, 'z');
  EXPECT_EQ(ParseOk(R"({"type":"LEAVE","dst":")" + dst + R"("})").dst, dst);
}

TEST_F(PeerJsParserTest, AcceptsSurroundingWhitespace) {
  EXPECT_EQ(ParseOk(" \t\r\n{\"type\":\"HEARTBEAT\"} \t\r\n").type, PeerJsType::kHeartbeat);
}

TEST_F(PeerJsParserTest, IgnoresUnknownOrMissingTypes) {
  for (std::string_view text : {
           R"({"type":"FOO","dst":"bob","payload":1})",
           R"({"type":"OPEN"})",
           R"({"type":"ERROR","payload":{"msg":"x"}})",
           R"({"type":"ID-TAKEN"})",
           R"({"type":"","dst":"bob"})",
           R"({"type":"offer","dst":"bob","payload":1})",
           R"({"type":"heartbeat"})",
           R"({"type":" OFFER","dst":"bob"})",
           R"({"type":"OFFER ","dst":"bob"})",
           R"({"dst":"bob","payload":1})",
           R"({})",
       }) {
    EXPECT_EQ(ParseResult(text), PeerJsParse::kIgnoredType) << text;
  }
}

TEST_F(PeerJsParserTest, IgnoresNonStringTypes) {
  for (std::string_view text : {
           R"({"type":1,"dst":"bob"})",
           R"({"type":null,"dst":"bob"})",
           R"({"type":true})",
           R"({"type":["OFFER"],"dst":"bob"})",
           R"({"type":{"OFFER":1},"dst":"bob"})",
       }) {
    EXPECT_EQ(ParseResult(text), PeerJsParse::kIgnoredType) << text;
  }
}

TEST_F(PeerJsParserTest, RelayedTypesNeedAValidDst) {
  for (PeerJsType type : kRelayedTypes) {
    const std::string head = R"({"type":")" + std::string(PeerJsTypeName(type)) + "\"";
    for (std::string_view tail : {
             R"(,"payload":1})",
             R"(,"dst":1,"payload":1})",
             R"(,"dst":null})",
             R"(,"dst":["bob"]})",
             R"(,"dst":{"id":"bob"}})",
             R"(,"dst":""})",
             R"(,"dst":"bad!id"})",
             R"(,"dst":"a+b"})",
             R"(,"dst":"a\"b"})",
             R"(,"dst":"caf\u00e9"})",
         }) {
      const std::string text = head + std::string(tail);
      EXPECT_EQ(ParseResult(text), PeerJsParse::kNoTarget) << text;
    }
    const std::string too_long = head + R"(,"dst":")" + std::string(65, 'z') + R"("})";
    EXPECT_EQ(ParseResult(too_long), PeerJsParse::kNoTarget) << too_long;
  }
}

TEST_F(PeerJsParserTest, RefusesTextThatIsNotJson) {
  for (std::string_view text : {
           "",
           "   ",
           "hello",
           "{type:HEARTBEAT}",
           R"({'type':'HEARTBEAT'})",
           R"({"type":"HEARTBEAT",})",
           R"({"type":"HEARTBEAT")",
           R"({"type":"HEARTBEAT"} // comment)",
           R"({"type":"OFFER","dst":"b","payload":NaN})",
       }) {
    EXPECT_EQ(ParseResult(text), PeerJsParse::kInvalidJson) << text;
  }
}

TEST_F(PeerJsParserTest, RefusesTrailingGarbage) {
  for (const std::string& text : {
           R"({"type":"HEARTBEAT"} x)"s,
           R"({"type":"HEARTBEAT"}{"type":"HEARTBEAT"})"s,
           R"({"type":"HEARTBEAT"}])"s,
           "{\"type\":\"HEARTBEAT\"}\0garbage"s,
       }) {
    EXPECT_EQ(ParseResult(text), PeerJsParse::kInvalidJson) << text;
  }
}

TEST_F(PeerJsParserTest, RefusesNumbersThatAreNotStrictJson) {
  for (std::string_view payload : {"01", "-01", "+1", "1.", "-"}) {
    const std::string text =
        R"({"type":"OFFER","dst":"bob","payload":)" + std::string(payload) + "}";
    EXPECT_EQ(ParseResult(text), PeerJsParse::kInvalidJson) << text;
  }
}

TEST_F(PeerJsParserTest, RefusesScalarAndArrayRoots) {
  for (std::string_view text :
       {R"("HEARTBEAT")", "17", "true", "null", R"([{"type":"HEARTBEAT"}])"}) {
    EXPECT_EQ(ParseResult(text), PeerJsParse::kInvalidJson) << text;
  }
}

TEST_F(PeerJsParserTest, RefusesDeeplyNestedFramesWithoutThrowing) {
  const std::string payload = std::string(100, '[') + std::string(100, ']');
  const std::string text = R"({"type":"OFFER","dst":"bob","payload":)" + payload + "}";
  PeerJsParse result = PeerJsParse::kMessage;
  PeerJsMessage message;
  EXPECT_NO_THROW(result = parser_.Parse(text, &message));
  EXPECT_EQ(result, PeerJsParse::kInvalidJson);

  const std::string bare = std::string(100, '[') + std::string(100, ']');
  EXPECT_NO_THROW(result = parser_.Parse(bare, &message));
  EXPECT_EQ(result, PeerJsParse::kInvalidJson);

  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 100; ++i) s += R"({"a":)";
    s += "1";
    for (int i = 0; i < 100; ++i) s += "}";
    return s;
  }();
  EXPECT_NO_THROW(result = parser_.Parse(objects, &message));
  EXPECT_EQ(result, PeerJsParse::kInvalidJson);

  // The parser is still usable afterwards.
  EXPECT_EQ(ParseOk(R"({"type":"LEAVE","dst":"bob"})").dst, "bob");
}

TEST_F(PeerJsParserTest, ReusesOneParserAcrossFrames) {
  const std::string first = R"({"type":"OFFER","dst":"alice","payload":{"sdp":"a"}})";
  const std::string second = R"({"type":"ANSWER","dst":"bob b","payload":[2]})";
  PeerJsMessage message = ParseOk(first);
  EXPECT_EQ(message.dst, "alice");
  EXPECT_EQ(message.payload, R"({"sdp":"a"})");
  EXPECT_EQ(ParseResult("not json"), PeerJsParse::kInvalidJson);
  EXPECT_EQ(ParseResult(R"({"type":"FOO"})"), PeerJsParse::kIgnoredType);
  message = ParseOk(second);
  EXPECT_EQ(message.type, PeerJsType::kAnswer);
  EXPECT_EQ(message.dst, "bob b");
  EXPECT_EQ(message.payload, "[2]");
  message = ParseOk(R"({"type":"HEARTBEAT"})");
  EXPECT_EQ(message.type, PeerJsType::kHeartbeat);
  EXPECT_TRUE(message.dst.empty());
  EXPECT_TRUE(message.payload.empty());
}

TEST_F(PeerJsParserTest, ParsedMessageRelaysByteForByte) {
  const std::string text =
      R"({"type":"CANDIDATE","dst":"peer b","payload":{ "candidate" : "c 1", "sdpMid":"0" }})";
  const PeerJsMessage message = ParseOk(text);
  const Frame frame = BuildPeerJsRelayFrame(message.type, "peer a", message.dst, message.payload);
  EXPECT_EQ(
      std::string(frame.body()),
      R"({"type":"CANDIDATE","src":"peer a","dst":"peer b","payload":{ "candidate" : "c 1", "sdpMid":"0" }})");
}

// --- Builders ----------------------------------------------------------------------------------

TEST(PeerJsFrameTest, RelayFrameWithPayload) {
  const Frame frame =
      BuildPeerJsRelayFrame(PeerJsType::kOffer, "alice", "bob b", R"({"sdp":"v=0\r\n"})");
  EXPECT_EQ(std::string(frame.body()),
            R"({"type":"OFFER","src":"alice","dst":"bob b","payload":{"sdp":"v=0\r\n"}})");
  const Json::Value value = ParseJson(frame.body());
  EXPECT_EQ(value["type"].asString(), "OFFER");
  EXPECT_EQ(value["src"].asString(), "alice");
  EXPECT_EQ(value["dst"].asString(), "bob b");
  EXPECT_EQ(value["payload"]["sdp"].asString(), "v=0\r\n");
}

TEST(PeerJsFrameTest, RelayFrameWithoutPayload) {
  EXPECT_EQ(std::string(BuildPeerJsRelayFrame(PeerJsType::kLeave, "a", "b", "").body()),
            R"({"type":"LEAVE","src":"a","dst":"b"})");
  EXPECT_EQ(std::string(BuildPeerJsRelayFrame(PeerJsType::kExpire, "peer a", "b", "").body()),
            R"({"type":"EXPIRE","src":"peer a","dst":"b"})");
}

TEST(PeerJsFrameTest, RelayFrameWithNullPayload) {
  EXPECT_EQ(std::string(BuildPeerJsRelayFrame(PeerJsType::kLeave, "a", "b", "null").body()),
            R"({"type":"LEAVE","src":"a","dst":"b","payload":null})");
}

TEST(PeerJsFrameTest, RelayFrameForEveryType) {
  for (PeerJsType type : kRelayedTypes) {
    const Frame frame = BuildPeerJsRelayFrame(type, "a", "b", "1");
    EXPECT_EQ(std::string(frame.body()), R"({"type":")" + std::string(PeerJsTypeName(type)) +
                                             R"(","src":"a","dst":"b","payload":1})");
  }
}

TEST(PeerJsFrameTest, OpenFrame) {
  EXPECT_EQ(std::string(BuildPeerJsOpenFrame().body()), R"({"type":"OPEN"})");
}

TEST(PeerJsFrameTest, ErrorFrame) {
  EXPECT_EQ(std::string(BuildPeerJsErrorFrame("Invalid key provided").body()),
            R"({"type":"ERROR","payload":{"msg":"Invalid key provided"}})");
}

TEST(PeerJsFrameTest, ErrorFrameEscapesTheMessage) {
  // AppendJsonString writes control characters as \u00XX escapes.
  const Frame frame = BuildPeerJsErrorFrame("say \"hi\"\nnow \\ then");
  EXPECT_EQ(std::string(frame.body()),
            R"({"type":"ERROR","payload":{"msg":"say \"hi\"\u000anow \\ then"}})");
  const Json::Value value = ParseJson(frame.body());
  EXPECT_EQ(value["payload"]["msg"].asString(), "say \"hi\"\nnow \\ then");
}

TEST(PeerJsFrameTest, IdTakenFrame) {
  EXPECT_EQ(std::string(BuildPeerJsIdTakenFrame().body()),
            R"({"type":"ID-TAKEN","payload":{"msg":"ID is taken"}})");
}

TEST(PeerJsFrameTest, ExpireFrameIsFromTheTargetToTheSender) {
  EXPECT_EQ(std::string(BuildPeerJsExpireFrame("target", "sender").body()),
            R"({"type":"EXPIRE","src":"target","dst":"sender"})");
  EXPECT_EQ(std::string(BuildPeerJsExpireFrame("peer b", kUuid).body()),
            R"({"type":"EXPIRE","src":"peer b","dst":")" + std::string(kUuid) + R"("})");
}

TEST(PeerJsFrameTest, EveryFrameIsStrictJson) {
  JsonDocument document;
  const Frame frames[] = {
      BuildPeerJsRelayFrame(PeerJsType::kCandidate, "a b", "c", R"({"x":[1,2]})"),
      BuildPeerJsRelayFrame(PeerJsType::kLeave, "a", "c", ""),
      BuildPeerJsOpenFrame(),
      BuildPeerJsErrorFrame("tab\there \x01 \"q\""),
      BuildPeerJsIdTakenFrame(),
      BuildPeerJsExpireFrame("a", "b"),
  };
  for (const Frame& frame : frames) {
    EXPECT_TRUE(document.Parse(frame.body())) << frame.body();
    EXPECT_EQ(document.root_type(), JsonType::kObject) << frame.body();
  }
}

TEST(PeerJsServerInfoTest, IsAJsonObjectNamedPeerJsServer) {
  const Json::Value value = ParseJson(PeerJsServerInfo());
  ASSERT_TRUE(value.isObject());
  EXPECT_EQ(value["name"].asString(), "PeerJS Server");
  EXPECT_TRUE(value["description"].isString());
  EXPECT_TRUE(value["website"].isString());
}

TEST(PeerJsIdListTest, Empty) { EXPECT_EQ(PeerJsIdList({}), "[]"); }

TEST(PeerJsIdListTest, OneId) { EXPECT_EQ(PeerJsIdList({"alice"}), R"(["alice"])"); }

TEST(PeerJsIdListTest, TwoIdsOneWithASpace) {
  const std::string list = PeerJsIdList({"alice", "peer b"});
  EXPECT_EQ(list, R"(["alice","peer b"])");
  const Json::Value value = ParseJson(list);
  ASSERT_TRUE(value.isArray());
  ASSERT_EQ(value.size(), 2u);
  EXPECT_EQ(value[0].asString(), "alice");
  EXPECT_EQ(value[1].asString(), "peer b");
}

}  // namespace
}  // namespace switchboard::protocol
