#include "protocol/native_protocol.h"

#include <gtest/gtest.h>
#include <json/json.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/frame.h"

namespace switchboard::protocol {
namespace {

using std::string_literals::operator""s;

constexpr std::string_view kNotJson = "frame is not valid JSON";
constexpr std::string_view kNotObject = "frame must be a JSON object";
constexpr std::string_view kBadType = "\"type\" must be a string";
constexpr std::string_view kBadTo =
    "\"to\" must be a peer id: 1 to 64 characters of A-Z a-z 0-9 _ -";
constexpr std::string_view kNoPayload = "\"payload\" is required";
constexpr std::string_view kBadId = "\"id\" must be a string or a number";

constexpr MessageType kRelayedTypes[] = {MessageType::kOffer, MessageType::kAnswer,
                                         MessageType::kCandidate, MessageType::kBye,
                                         MessageType::kMessage};

// A client frame of `type` for peer b whose "payload" member is exactly `payload`.
std::string FrameWithPayload(std::string_view type, std::string_view payload) {
  return R"({"type":")" + std::string(type) + R"(","to":"b","payload":)" + std::string(payload) +
         "}";
}

// A bye frame for `to`, which is written into the JSON string as it is.
std::string ByeTo(std::string_view to) {
  return R"({"type":"bye","to":")" + std::string(to) + R"("})";
}

// Parses `json` with jsoncpp in strict mode; fails the test if it is not a JSON object.
Json::Value ParseJsonObject(std::string_view json) {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  EXPECT_TRUE(reader->parse(json.data(), json.data() + json.size(), &value, &errors))
      << json << ": " << errors;
  EXPECT_TRUE(value.isObject()) << json;
  return value;
}

// True when `text` is well-formed UTF-8 (RFC 3629), as every WebSocket text message must be.
bool IsWellFormedUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    uint32_t code_point = lead;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2, code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, code_point = lead & 0x0f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4, code_point = lead & 0x07;
    } else if (lead >= 0x80) {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    const bool overlong =
        (length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000);
    const bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
    if (overlong || surrogate || code_point > 0x10ffff) return false;
    i += length;
  }
  return true;
}

class NativeParserTest : public testing::Test {
 protected:
  // Parses `text`, which must be accepted. `text` must outlive the returned views.
  ClientMessage ParseOk(std::string_view text) {
    ClientMessage message;
    ParseError error;
    EXPECT_TRUE(parser_.Parse(text, &message, &error)) << text << ": " << error.message;
    return message;
  }

  // Parses `text`, which must be refused; nullopt (and a failure) if it was accepted. `text` must
  // outlive the returned ref.
  std::optional<ParseError> ParseBad(std::string_view text) {
    ClientMessage message;
    ParseError error;
    if (!parser_.Parse(text, &message, &error)) return error;
    ADD_FAILURE() << "accepted: " << text;
    return std::nullopt;
  }

  // Expects `text` to be refused with `message` and `ref`.
  void ExpectRefused(std::string_view text, std::string_view message, std::string_view ref = "") {
    if (const std::optional<ParseError> error = ParseBad(text)) {
      EXPECT_EQ(error->message, message) << text;
      EXPECT_EQ(error->ref, ref) << text;
    }
  }

  NativeParser parser_;
};

// --- Accepted frames ---------------------------------------------------------------------------

TEST_F(NativeParserTest, ParsesEveryRelayedType) {
  for (MessageType type : kRelayedTypes) {
    const std::string text = R"({"type":")" + std::string(MessageTypeName(type)) +
                             R"(","to":"bob_01-X","payload":{"k":1}})";
    const ClientMessage message = ParseOk(text);
    EXPECT_EQ(message.type, type) << text;
    EXPECT_EQ(message.to, "bob_01-X") << text;
    EXPECT_EQ(message.payload, R"({"k":1})") << text;
    EXPECT_EQ(message.ref, "") << text;
  }
}

TEST_F(NativeParserTest, ParsesPing) {
  const ClientMessage message = ParseOk(R"({"type":"ping"})");
  EXPECT_EQ(message.type, MessageType::kPing);
  EXPECT_EQ(message.to, "");
  EXPECT_EQ(message.payload, "");
  EXPECT_EQ(message.ref, "");
}

TEST_F(NativeParserTest, PingIgnoresToAndPayload) {
  const ClientMessage message = ParseOk(R"({"type":"ping","to":"not a peer!","payload":1,"id":3})");
  EXPECT_EQ(message.type, MessageType::kPing);
  EXPECT_EQ(message.to, "");
  EXPECT_EQ(message.payload, "");
  EXPECT_EQ(message.ref, "3");
}

TEST_F(NativeParserTest, PayloadIsTheExactRawSlice) {
  const std::string_view kPayloads[] = {
      R"({"sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","type":"offer"})",
      "{ \"a\" :\t[ 1 ,2,\n{ } ] ,\"b\":{\"c\":{\"d\":[]}} }",
      R"([1,[2,[3,[4]]],{"x":null},"s",-0.5])",
      R"("esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00")",
      "-12.5e+3",
      "0",
      "123456789012345678901234567890",
      "true",
      "false",
      "null",
      "{}",
      "[]",
      R"("")",
      "\"caf\xc3\xa9\"",
  };
  for (std::string_view payload : kPayloads) {
    const std::string text = FrameWithPayload("message", payload);
    EXPECT_EQ(ParseOk(text).payload, payload) << text;
  }
}

TEST_F(NativeParserTest, PayloadSliceExcludesSurroundingWhitespace) {
  const std::string text =
      "{ \"payload\" :  \t\n [ 1 ,\n 2 ] \r\n , \"to\" : \"b\" , \"type\" : \"candidate\" }";
  const ClientMessage message = ParseOk(text);
  EXPECT_EQ(message.type, MessageType::kCandidate);
  EXPECT_EQ(message.to, "b");
  EXPECT_EQ(message.payload, "[ 1 ,\n 2 ]");
}

TEST_F(NativeParserTest, PayloadSliceIsIndependentOfMemberPosition) {
  const ClientMessage message =
      ParseOk(R"({"payload":{"candidate":"c"},"type":"answer","to":"b"})");
  EXPECT_EQ(message.type, MessageType::kAnswer);
  EXPECT_EQ(message.payload, R"({"candidate":"c"})");
}

TEST_F(NativeParserTest, ByeWithoutPayloadHasNullPayload) {
  const ClientMessage message = ParseOk(R"({"type":"bye","to":"b"})");
  EXPECT_EQ(message.type, MessageType::kBye);
  EXPECT_EQ(message.to, "b");
  EXPECT_EQ(message.payload, "null");
}

TEST_F(NativeParserTest, ByeWithPayloadKeepsIt) {
  EXPECT_EQ(ParseOk(FrameWithPayload("bye", R"({"reason":"done"})")).payload,
            R"({"reason":"done"})");
}

TEST_F(NativeParserTest, StringIdBecomesRefWithQuotes) {
  EXPECT_EQ(ParseOk(R"({"type":"ping","id":"m-17"})").ref, R"("m-17")");
  EXPECT_EQ(ParseOk(R"({"type":"ping","id":"a\"b\u00e9"})").ref, R"("a\"b\u00e9")");
  EXPECT_EQ(ParseOk(R"({"type":"ping","id":""})").ref, R"("")");
}

TEST_F(NativeParserTest, NumberIdBecomesRawNumberText) {
  const std::string_view kIds[] = {
      "17", "0", "-3", "2.50", "1e3", "-1.5E-7", "123456789012345678901234567890"};
  for (std::string_view id : kIds) {
    const std::string text =
        R"({"id":)" + std::string(id) + R"(,"type":"offer","to":"b","payload":1})";
    EXPECT_EQ(ParseOk(text).ref, id) << text;
  }
}

TEST_F(NativeParserTest, IgnoresClientWrittenFromAndUnknownMembers) {
  const ClientMessage message =
      ParseOk(R"({"type":"offer","from":"mallory","to":"bob","payload":1,"extra":[{}]})");
  EXPECT_EQ(message.type, MessageType::kOffer);
  EXPECT_EQ(message.to, "bob");
  EXPECT_EQ(message.payload, "1");
  // Even an ill-typed "from" is ignored.
  EXPECT_EQ(ParseOk(R"({"type":"bye","from":{"x":1},"to":"bob"})").to, "bob");
}

TEST_F(NativeParserTest, ToIsTheDecodedString) {
  EXPECT_EQ(ParseOk(ByeTo(R"(b\u006fb)")).to, "bob");
}

TEST_F(NativeParserTest, AcceptsToOfMaxLength) {
  const std::string to(64, 'z');
  EXPECT_EQ(ParseOk(ByeTo(to)).to, to);
}

TEST_F(NativeParserTest, AcceptsPayloadNestedUpToTheDepthLimit) {
  // The root object counts as one level.
  const std::string payload = std::string(63, '[') + std::string(63, ']');
  EXPECT_EQ(ParseOk(FrameWithPayload("message", payload)).payload, payload);
}

// --- Refused frames ----------------------------------------------------------------------------

TEST_F(NativeParserTest, RefusesTextThatIsNotJson) {
  ExpectRefused("", kNotJson);
  ExpectRefused("   ", kNotJson);
  ExpectRefused("hello", kNotJson);
  ExpectRefused("{type:ping}", kNotJson);
  ExpectRefused(R"({'type':'ping'})", kNotJson);
  ExpectRefused(R"({"type":"ping",})", kNotJson);
  ExpectRefused(R"({"type":"ping"} // comment)", kNotJson);
  ExpectRefused(R"({"type":"offer","to":"b","payload":NaN})", kNotJson);
}

TEST_F(NativeParserTest, RefusesTruncatedJson) {
  const std::string text = R"({"type":"offer","to":"b","payload":{"sdp":"v=0"}})";
  for (size_t length = 1; length < text.size(); ++length) {
    ExpectRefused(std::string_view(text).substr(0, length), kNotJson);
  }
}

TEST_F(NativeParserTest, RefusesTrailingGarbage) {
  ExpectRefused(R"({"type":"ping"} x)", kNotJson);
  ExpectRefused(R"({"type":"ping"}{"type":"ping"})", kNotJson);
  ExpectRefused(R"({"type":"ping"}])", kNotJson);
  ExpectRefused("{\"type\":\"ping\"}\0garbage"s, kNotJson);
}

// The payload and the id are sent on verbatim, so anything jsoncpp tolerates beyond RFC 8259
// would reach the other peer (or come back in "ref") as a frame its JSON parser rejects.
TEST_F(NativeParserTest, RefusesPayloadThatIsNotStrictJson) {
  const std::string kPayloads[] = {"01",   "-01",      "-",        "+1",        "1.",
                                   "1.e5", "\"a\nb\"", "\"a\tb\"", "\"a\0b\""s, "[\"\x1f\"]"};
  for (const std::string& payload : kPayloads) {
    ExpectRefused(FrameWithPayload("message", payload), kNotJson);
  }
}

TEST_F(NativeParserTest, RefusesIdThatIsNotStrictJson) {
  for (std::string_view id : {"+1", "-", "01", "2.", "\"a\nb\""}) {
    ExpectRefused(R"({"type":"ping","id":)" + std::string(id) + "}", kNotJson);
  }
}

TEST_F(NativeParserTest, AcceptsTrailingWhitespace) {
  EXPECT_EQ(ParseOk(" \t\r\n{\"type\":\"ping\"} \t\r\n").type, MessageType::kPing);
}

TEST_F(NativeParserTest, RefusesArrayRoot) { ExpectRefused(R"([{"type":"ping"}])", kNotObject); }

TEST_F(NativeParserTest, RefusesScalarRoots) {
  // jsoncpp's strict mode refuses scalar roots while parsing, so these never reach the object
  // check; either message tells the client what is wrong.
  for (std::string_view text : {R"("ping")", "17", "true", "null"}) {
    ExpectRefused(text, kNotObject);
  }
}

TEST_F(NativeParserTest, RefusesMissingOrNonStringType) {
  ExpectRefused(R"({"to":"b","payload":1})", kBadType);
  ExpectRefused(R"({"type":1,"to":"b","payload":1})", kBadType);
  ExpectRefused(R"({"type":null,"to":"b","payload":1})", kBadType);
  ExpectRefused(R"({"type":["offer"],"to":"b","payload":1})", kBadType);
  ExpectRefused(R"({"type":{"name":"offer"},"to":"b","payload":1})", kBadType);
}

TEST_F(NativeParserTest, RefusesUnknownType) {
  ExpectRefused(R"({"type":"hello","to":"b","payload":1})", R"(unknown type "hello")");
  ExpectRefused(R"({"type":"","to":"b","payload":1})", R"(unknown type "")");
  ExpectRefused(R"({"type":"Offer","to":"b","payload":1})", R"(unknown type "Offer")");
  ExpectRefused(R"({"type":"welcome"})", R"(unknown type "welcome")");
  ExpectRefused(R"({"type":"pong"})", R"(unknown type "pong")");
}

TEST_F(NativeParserTest, UnknownTypeIsQuotedUpTo32Characters) {
  const std::string type(32, 't');
  ExpectRefused(R"({"type":")" + type + R"("})", "unknown type \"" + type + "\"");
  ExpectRefused(R"({"type":")" + type + R"(u"})", "unknown type \"" + type + "...\"");
}

TEST_F(NativeParserTest, UnknownTypeIsNotQuotedUnlessPrintableAscii) {
  ExpectRefused("{\"type\":\"caf\xc3\xa9\"}", "unknown type");
  ExpectRefused(R"({"type":"a\nb"})", "unknown type");
}

// The message is sent back to the client in a text frame, which must be valid UTF-8.
TEST_F(NativeParserTest, UnknownTypeMessageIsWellFormedUtf8) {
  const std::string kTypes[] = {
      "a" + std::string(40, 'x'),                 // plain ASCII, cut at 32 bytes
      std::string(30, 'x') + "\xc3\xa9\xc3\xa9",  // cut between two characters
      "a" + std::string(30, 'x') + "\xc3\xa9",    // cut inside a 2-byte character
      std::string(30, 'x') + "\xe2\x9c\x93",      // cut inside a 3-byte character
      "\\udc00",                                  // a lone low surrogate, written as an escape
  };
  for (const std::string& type : kTypes) {
    const std::string text = R"({"type":")" + type + R"("})";
    ASSERT_TRUE(IsWellFormedUtf8(text)) << "bad test input " << text;
    if (const std::optional<ParseError> error = ParseBad(text)) {
      EXPECT_TRUE(error->message.starts_with("unknown type")) << error->message;
      EXPECT_TRUE(IsWellFormedUtf8(error->message)) << text << " -> " << error->message;
    }
  }
}

TEST_F(NativeParserTest, RefusesMissingOrInvalidTo) {
  const std::string_view kTexts[] = {
      R"({"type":"offer","payload":1})",
      R"({"type":"offer","to":5,"payload":1})",
      R"({"type":"offer","to":null,"payload":1})",
      R"({"type":"offer","to":["b"],"payload":1})",
      R"({"type":"offer","to":"","payload":1})",
      R"({"type":"offer","to":"a b","payload":1})",
      R"({"type":"offer","to":"a.b","payload":1})",
      R"({"type":"offer","to":"a/b","payload":1})",
      R"({"type":"offer","to":"caf\u00e9","payload":1})",
      R"({"type":"offer","to":"a\u0000b","payload":1})",
      R"({"type":"bye","to":"a\"b"})",
  };
  for (std::string_view text : kTexts) ExpectRefused(text, kBadTo);
}

TEST_F(NativeParserTest, RefusesToOf65Characters) {
  ExpectRefused(ByeTo(std::string(65, 'z')), kBadTo);
}

TEST_F(NativeParserTest, RefusesMissingPayloadOnTypesThatNeedOne) {
  for (MessageType type : kRelayedTypes) {
    if (type == MessageType::kBye) continue;
    const std::string text = R"({"type":")" + std::string(MessageTypeName(type)) + R"(","to":"b"})";
    ExpectRefused(text, kNoPayload);
  }
}

TEST_F(NativeParserTest, RefusesIdThatIsNotStringOrNumber) {
  for (std::string_view id : {"{}", R"({"n":1})", "[]", "[1]", "true", "false", "null"}) {
    ExpectRefused(R"({"type":"ping","id":)" + std::string(id) + "}", kBadId);
  }
}

TEST_F(NativeParserTest, RefusesDuplicateKeys) {
  ExpectRefused(R"({"type":"ping","type":"ping"})", kNotJson);
  ExpectRefused(R"({"type":"offer","to":"a","to":"b","payload":1})", kNotJson);
  ExpectRefused(R"({"type":"offer","to":"b","payload":{"k":1,"k":2}})", kNotJson);
}

TEST_F(NativeParserTest, RefusesDeeplyNestedPayloadWithoutCrashing) {
  const std::string unclosed = FrameWithPayload("message", std::string(10000, '['));
  ExpectRefused(unclosed, kNotJson);
  const std::string closed =
      FrameWithPayload("message", std::string(10000, '[') + std::string(10000, ']'));
  ExpectRefused(closed, kNotJson);
  ExpectRefused(FrameWithPayload("message", std::string(64, '[') + std::string(64, ']')), kNotJson);
  // The parser is still usable afterwards.
  EXPECT_EQ(ParseOk(R"({"type":"ping","id":1})").ref, "1");
}

TEST_F(NativeParserTest, ErrorsAfterAValidIdCarryItsRef) {
  ExpectRefused(R"({"id":"m1","type":"nope"})", R"(unknown type "nope")", R"("m1")");
  ExpectRefused(R"({"id":9,"to":"b","payload":1})", kBadType, "9");
  ExpectRefused(R"({"type":"offer","to":"bad id","payload":1,"id":9})", kBadTo, "9");
  ExpectRefused(R"({"type":"offer","payload":1,"id":-2.5})", kBadTo, "-2.5");
  ExpectRefused(R"({"type":"message","to":"b","id":"x"})", kNoPayload, R"("x")");
}

TEST_F(NativeParserTest, ReusesOneParserAcrossFrames) {
  const std::string offer = R"({"type":"offer","to":"bob","payload":{"sdp":"v=0"},"id":1})";
  const std::string bad = R"({"type":"offer","to":"bob","id":"two"})";
  const std::string ping = R"({"type":"ping","id":3})";
  const std::string bye = R"({"type":"bye","to":"carol"})";
  const std::string deep = FrameWithPayload("message", std::string(1000, '['));
  const std::string message = R"({"type":"message","to":"dave","payload":[true]})";

  ClientMessage out = ParseOk(offer);
  EXPECT_EQ(out.type, MessageType::kOffer);
  EXPECT_EQ(out.to, "bob");
  EXPECT_EQ(out.payload, R"({"sdp":"v=0"})");
  EXPECT_EQ(out.ref, "1");

  ExpectRefused(bad, kNoPayload, R"("two")");

  out = ParseOk(ping);
  EXPECT_EQ(out.type, MessageType::kPing);
  EXPECT_EQ(out.to, "");
  EXPECT_EQ(out.ref, "3");

  out = ParseOk(bye);
  EXPECT_EQ(out.type, MessageType::kBye);
  EXPECT_EQ(out.to, "carol");
  EXPECT_EQ(out.payload, "null");
  EXPECT_EQ(out.ref, "");

  ExpectRefused(deep, kNotJson);

  out = ParseOk(message);
  EXPECT_EQ(out.type, MessageType::kMessage);
  EXPECT_EQ(out.to, "dave");
  EXPECT_EQ(out.payload, "[true]");
  EXPECT_EQ(out.ref, "");
}

// --- Names -------------------------------------------------------------------------------------

TEST(MessageTypeTest, WireNames) {
  EXPECT_EQ(MessageTypeName(MessageType::kOffer), "offer");
  EXPECT_EQ(MessageTypeName(MessageType::kAnswer), "answer");
  EXPECT_EQ(MessageTypeName(MessageType::kCandidate), "candidate");
  EXPECT_EQ(MessageTypeName(MessageType::kBye), "bye");
  EXPECT_EQ(MessageTypeName(MessageType::kMessage), "message");
  EXPECT_EQ(MessageTypeName(MessageType::kPing), "ping");
}

TEST(MessageTypeTest, EverythingButPingIsRelayed) {
  for (MessageType type : kRelayedTypes) EXPECT_TRUE(IsRelayed(type)) << MessageTypeName(type);
  EXPECT_FALSE(IsRelayed(MessageType::kPing));
}

TEST(ErrorCodeTest, WireNames) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kBadMessage), "bad-message");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kPeerUnavailable), "peer-unavailable");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kRateLimited), "rate-limited");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kIdTaken), "id-taken");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kUnavailable), "unavailable");
}

// --- Builders ----------------------------------------------------------------------------------

TEST(BuildRelayFrameTest, IsExactlyTheEnvelopeAroundTheRawPayload) {
  const Frame frame = BuildRelayFrame(MessageType::kOffer, "a", "b", R"({"sdp":"v=0"})");
  EXPECT_EQ(frame.body(), R"({"type":"offer","from":"a","to":"b","payload":{"sdp":"v=0"}})");
  EXPECT_EQ(frame.size(), frame.body().size());
}

TEST(BuildRelayFrameTest, ParsesAsJson) {
  for (MessageType type : kRelayedTypes) {
    const Frame frame = BuildRelayFrame(type, "alice", "bob", R"({ "n" : [1, "x"] })");
    const Json::Value json = ParseJsonObject(frame.body());
    EXPECT_EQ(json["type"].asString(), MessageTypeName(type));
    EXPECT_EQ(json["from"].asString(), "alice");
    EXPECT_EQ(json["to"].asString(), "bob");
    EXPECT_EQ(json["payload"]["n"][0].asInt(), 1);
    EXPECT_EQ(json["payload"]["n"][1].asString(), "x");
    EXPECT_EQ(json.size(), 4u);
  }
}

TEST(BuildRelayFrameTest, CarriesAParsedPayloadByteForByte) {
  const std::string text =
      "{\"type\":\"candidate\",\"to\":\"bob\",\"from\":\"mallory\",\"payload\":"
      "{ \"candidate\" : \"a=1\\n\" ,\t\"i\":-0.0 }}";
  NativeParser parser;
  ClientMessage message;
  ParseError error;
  ASSERT_TRUE(parser.Parse(text, &message, &error)) << error.message;
  const Frame frame = BuildRelayFrame(message.type, "alice", message.to, message.payload);
  EXPECT_EQ(frame.body(),
            "{\"type\":\"candidate\",\"from\":\"alice\",\"to\":\"bob\",\"payload\":"
            "{ \"candidate\" : \"a=1\\n\" ,\t\"i\":-0.0 }}");
}

TEST(BuildRelayFrameTest, ByeWithoutPayloadCarriesNull) {
  EXPECT_EQ(BuildRelayFrame(MessageType::kBye, "a", "b", "null").body(),
            R"({"type":"bye","from":"a","to":"b","payload":null})");
}

TEST(BuildWelcomeFrameTest, IsExact) {
  EXPECT_EQ(BuildWelcomeFrame("alice", "laptop").body(),
            R"({"type":"welcome","peer":"alice","pod":"laptop"})");
}

TEST(BuildWelcomeFrameTest, EscapesThePodName) {
  const std::string pod = "pod \"1\" \\ \n\x01\t caf\xc3\xa9";
  const Frame frame = BuildWelcomeFrame("alice", pod);
  EXPECT_EQ(frame.body(),
            "{\"type\":\"welcome\",\"peer\":\"alice\",\"pod\":"
            "\"pod \\\"1\\\" \\\\ \\u000a\\u0001\\u0009 caf\xc3\xa9\"}");
  const Json::Value json = ParseJsonObject(frame.body());
  EXPECT_EQ(json["type"].asString(), "welcome");
  EXPECT_EQ(json["peer"].asString(), "alice");
  EXPECT_EQ(json["pod"].asString(), pod);
}

TEST(BuildPongFrameTest, WithoutRef) { EXPECT_EQ(BuildPongFrame("").body(), R"({"type":"pong"})"); }

TEST(BuildPongFrameTest, WithRef) {
  EXPECT_EQ(BuildPongFrame("17").body(), R"({"type":"pong","ref":17})");
  EXPECT_EQ(BuildPongFrame(R"("m1")").body(), R"({"type":"pong","ref":"m1"})");
}

TEST(BuildErrorFrameTest, WithToAndRef) {
  // The example of docs/protocol.md.
  EXPECT_EQ(
      BuildErrorFrame(ErrorCode::kPeerUnavailable, "peer B is not connected", "B", "17").body(),
      R"({"type":"error","code":"peer-unavailable","message":"peer B is not connected",)"
      R"("to":"B","ref":17})");
}

TEST(BuildErrorFrameTest, WithoutToOrRef) {
  EXPECT_EQ(BuildErrorFrame(ErrorCode::kBadMessage, "frame is not valid JSON").body(),
            R"({"type":"error","code":"bad-message","message":"frame is not valid JSON"})");
}

TEST(BuildErrorFrameTest, WithOnlyTo) {
  EXPECT_EQ(BuildErrorFrame(ErrorCode::kUnavailable, "m", "bob").body(),
            R"({"type":"error","code":"unavailable","message":"m","to":"bob"})");
}

TEST(BuildErrorFrameTest, WithOnlyRef) {
  EXPECT_EQ(BuildErrorFrame(ErrorCode::kRateLimited, "m", "", R"("x")").body(),
            R"({"type":"error","code":"rate-limited","message":"m","ref":"x"})");
}

TEST(BuildErrorFrameTest, EveryCodeHasItsWireName) {
  const std::pair<ErrorCode, std::string_view> kCodes[] = {
      {ErrorCode::kBadMessage, "bad-message"},   {ErrorCode::kPeerUnavailable, "peer-unavailable"},
      {ErrorCode::kRateLimited, "rate-limited"}, {ErrorCode::kIdTaken, "id-taken"},
      {ErrorCode::kUnavailable, "unavailable"},
  };
  for (const auto& [code, name] : kCodes) {
    EXPECT_EQ(BuildErrorFrame(code, "m").body(),
              R"({"type":"error","code":")" + std::string(name) + R"(","message":"m"})");
  }
}

TEST(BuildErrorFrameTest, EscapesTheMessage) {
  const std::string message = "unknown type \"a\\b\"\n";
  const Frame frame = BuildErrorFrame(ErrorCode::kBadMessage, message, "", "7");
  EXPECT_EQ(frame.body(), R"({"type":"error","code":"bad-message","message":)"
                          R"("unknown type \"a\\b\"\u000a","ref":7})");
  const Json::Value json = ParseJsonObject(frame.body());
  EXPECT_EQ(json["message"].asString(), message);
  EXPECT_EQ(json["ref"].asInt(), 7);
}

// --- Frame -------------------------------------------------------------------------------------

TEST(FrameTest, StartsEmpty) {
  const Frame frame(100);
  EXPECT_EQ(frame.body(), "");
  EXPECT_EQ(frame.size(), 0u);
}

TEST(FrameTest, BodyHoldsAppendedBytesOnly) {
  Frame frame;
  frame.Append("ab");
  frame.Append('c');
  frame.Append("\0d"s);
  EXPECT_EQ(frame.body(), "abc\0d"s);
  EXPECT_EQ(frame.size(), 5u);
}

TEST(FrameTest, MutableBodyIsTheBodyWithWritableHeadroom) {
  Frame frame = BuildPongFrame("");
  char* body = frame.mutable_body();
  EXPECT_EQ(body, frame.body().data());
  std::memset(body - Frame::kHeadroom, 'H', Frame::kHeadroom);
  EXPECT_EQ(frame.body(), R"({"type":"pong"})");
  EXPECT_EQ(frame.size(), 15u);
  body[0] = '[';
  EXPECT_EQ(frame.body(), R"(["type":"pong"})");
}

TEST(FrameTest, HeadroomIsWritableAfterGrowth) {
  Frame frame(1);
  frame.Append(std::string(10000, 'x'));
  std::memset(frame.mutable_body() - Frame::kHeadroom, 0, Frame::kHeadroom);
  EXPECT_EQ(frame.body(), std::string(10000, 'x'));
}

}  // namespace
}  // namespace switchboard::protocol
