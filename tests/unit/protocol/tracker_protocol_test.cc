#include "protocol/tracker_protocol.h"

#include <gtest/gtest.h>
#include <json/json.h>

#include <memory>
#include <string>

namespace switchboard::protocol {
namespace {

// 20 bytes with some >= 0x80 (two-byte UTF-8 on the wire), a quote, a backslash and a control
// character, as the reference client's hex2bin can produce.
const std::string kHash = std::string("\x01\x80\xff\"\\abcdefghijklm\x7f\xc3", 20);
const std::string kPeer =
    std::string("-WW0100-\xe9\xe8\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19", 20);
const std::string kOther = std::string("-WW0100-AAAAAAAAAAAA", 20);

// The JSON string the reference client writes for `bytes` (one character per byte).
std::string Js(const std::string& bytes) {
  Frame frame;
  AppendTrackerBinaryString(frame, bytes);
  return std::string(frame.body());
}

Json::Value ParseJson(std::string_view text) {
  Json::CharReaderBuilder builder;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors))
      << errors << " in " << text;
  return value;
}

// The bytes of a JSON string jsoncpp decoded, read back as one byte per character.
std::string Bytes(const Json::Value& value) {
  std::string out;
  const std::string utf8 = value.asString();
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (utf8[++i] & 0x3F)));
    }
  }
  return out;
}

class TrackerParserTest : public ::testing::Test {
 protected:
  std::optional<TrackerFailure> Parse(const std::string& text) {
    text_ = text;
    return parser_.Parse(text_, &request_);
  }
  std::string Announce(const std::string& extra) {
    return "{\"action\":\"announce\",\"info_hash\":" + Js(kHash) + ",\"peer_id\":" + Js(kPeer) +
           extra + "}";
  }

  TrackerParser parser_{TrackerLimits{.max_offers = 3, .max_scrape = 2}};
  TrackerRequest request_;
  std::string text_;
};

TEST(TrackerRoutingKeyTest, IsHexBehindACaretAndReadsBack) {
  const std::string key = TrackerRoutingKey(kPeer);
  EXPECT_EQ(key.size(), 41u);
  EXPECT_EQ(key.substr(0, 9), "^2d575730");
  EXPECT_EQ(key.find(' '), std::string::npos);
  EXPECT_EQ(TrackerPeerIdFromRoutingKey(key), kPeer);
  EXPECT_EQ(TrackerPeerIdFromRoutingKey("~alice"), std::nullopt);
  EXPECT_EQ(TrackerPeerIdFromRoutingKey("alice"), std::nullopt);
  EXPECT_EQ(TrackerPeerIdFromRoutingKey("^" + std::string(40, 'g')), std::nullopt);
  EXPECT_EQ(TrackerPeerIdFromRoutingKey(key.substr(0, 40)), std::nullopt);
  EXPECT_EQ(TrackerHex(std::string("\x00\xff", 2)), "00ff");
}

TEST(TrackerBinaryStringTest, IsOneCharacterPerByteAndValidJson) {
  const std::string text = Js(kHash);
  const Json::Value value = ParseJson("[" + text + "]");
  EXPECT_EQ(Bytes(value[0]), kHash);
  EXPECT_NE(text.find("\\u0001"), std::string::npos);
  EXPECT_NE(text.find("\\\""), std::string::npos);
  EXPECT_NE(text.find("\xc2\x80"), std::string::npos);  // 0x80 as UTF-8
  EXPECT_NE(text.find("\xc3\xbf"), std::string::npos);  // 0xff
}

TEST_F(TrackerParserTest, ReadsAnAnnounceWithOffers) {
  const auto failure = Parse(Announce(
      ",\"numwant\":2,\"uploaded\":0,\"downloaded\":0,\"left\":0,\"event\":\"started\","
      "\"offers\":[{\"offer_id\":\"o1\",\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}},"
      " {\"offer\": {\"sdp\":\"x\"} , \"offer_id\":" +
      Js(kOther) + "}]"));
  ASSERT_FALSE(failure) << failure->reason;
  EXPECT_EQ(request_.action, TrackerAction::kAnnounce);
  const TrackerAnnounce& a = request_.announce;
  EXPECT_EQ(a.info_hash, kHash);
  EXPECT_EQ(a.peer_id, kPeer);
  EXPECT_EQ(a.event, TrackerEvent::kStarted);
  EXPECT_TRUE(a.complete);
  EXPECT_EQ(a.numwant, 2u);
  ASSERT_EQ(a.offers.size(), 2u);
  EXPECT_EQ(a.offers[0].offer_id, "\"o1\"");
  EXPECT_EQ(a.offers[0].offer, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}");
  EXPECT_EQ(a.offers[1].offer, "{\"sdp\":\"x\"}");
  EXPECT_EQ(a.offers[1].offer_id, Js(kOther));
  EXPECT_TRUE(a.answer.empty());
  EXPECT_TRUE(a.to_peer_id.empty());
}

TEST_F(TrackerParserTest, ReadsEventsLeftAndNumwantAsTheReferenceServerDoes) {
  struct Case {
    std::string extra;
    TrackerEvent event;
    bool complete;
    std::optional<uint32_t> numwant;
  };
  const Case cases[] = {
      {"", TrackerEvent::kUpdate, false, std::nullopt},
      {",\"event\":\"\",\"left\":\"0\"", TrackerEvent::kUpdate, true, std::nullopt},
      {",\"event\":\"update\",\"left\":12,\"numwant\":\"5\"", TrackerEvent::kUpdate, false, 5u},
      {",\"event\":\"paused\",\"left\":null,\"numwant\":-1", TrackerEvent::kUpdate, false,
       std::nullopt},
      {",\"event\":\"stopped\",\"numwant\":1e20", TrackerEvent::kStopped, false, UINT32_MAX},
      {",\"event\":\"completed\",\"left\":0.0,\"numwant\":2.7", TrackerEvent::kCompleted, true, 2u},
      {",\"event\":null,\"left\":\"x\",\"numwant\":true", TrackerEvent::kUpdate, false,
       std::nullopt},
  };
  for (const Case& c : cases) {
    const auto failure = Parse(Announce(c.extra));
    ASSERT_FALSE(failure) << c.extra << ": " << failure->reason;
    EXPECT_EQ(request_.announce.event, c.event) << c.extra;
    EXPECT_EQ(request_.announce.complete, c.complete) << c.extra;
    EXPECT_EQ(request_.announce.numwant, c.numwant) << c.extra;
    EXPECT_TRUE(request_.announce.offers.empty()) << c.extra;
  }
}

TEST_F(TrackerParserTest, ReadsAnAnswer) {
  const auto failure =
      Parse(Announce(",\"to_peer_id\":" + Js(kOther) + ",\"offer_id\":" + Js(kHash) +
                     ",\"answer\":{\"type\":\"answer\",\"sdp\":\"v=0\"}"));
  ASSERT_FALSE(failure) << failure->reason;
  EXPECT_EQ(request_.announce.to_peer_id, kOther);
  EXPECT_EQ(request_.announce.offer_id, Js(kHash));
  EXPECT_EQ(request_.announce.answer, "{\"type\":\"answer\",\"sdp\":\"v=0\"}");
}

TEST_F(TrackerParserTest, ReusedParserForgetsTheLastRequest) {
  ASSERT_FALSE(Parse(Announce(",\"to_peer_id\":" + Js(kOther) +
                              ",\"offer_id\":\"a\",\"answer\":{},\"offers\":[]")));
  ASSERT_FALSE(Parse(Announce(",\"offers\":[{\"offer_id\":\"o\",\"offer\":{}}]")));
  ASSERT_FALSE(Parse(Announce("")));
  EXPECT_TRUE(request_.announce.to_peer_id.empty());
  EXPECT_TRUE(request_.announce.answer.empty());
  EXPECT_TRUE(request_.announce.offers.empty());
}

TEST_F(TrackerParserTest, ReadsScrapesOfOneOrAList) {
  ASSERT_FALSE(Parse("{\"action\":\"scrape\",\"info_hash\":" + Js(kHash) + "}"));
  EXPECT_EQ(request_.action, TrackerAction::kScrape);
  EXPECT_EQ(request_.scrape_hashes, std::vector<std::string>{kHash});
  ASSERT_FALSE(
      Parse("{\"action\":\"scrape\",\"info_hash\":[" + Js(kHash) + " , " + Js(kOther) + "]}"));
  EXPECT_EQ(request_.scrape_hashes, (std::vector<std::string>{kHash, kOther}));
  ASSERT_FALSE(Parse("{\"action\":\"scrape\",\"info_hash\":[]}"));
  EXPECT_TRUE(request_.scrape_hashes.empty());
}

TEST_F(TrackerParserTest, RefusesWhatIsMalformedWithTheReason) {
  struct Case {
    std::string text;
    std::string reason;
    std::optional<TrackerAction> action;
    bool names_hash;
  };
  const std::string bad20 = "\"" + std::string(19, 'a') + "\"";
  const std::string wide = "\"" + std::string(19, 'a') + "\xc4\x80\"";  // U+0100: not a byte
  const Case cases[] = {
      {"not json", "invalid JSON: a request is one JSON object", std::nullopt, false},
      {"[1]", "invalid JSON: a request is one JSON object", std::nullopt, false},
      {"{\"action\":\"announce\",\"action\":\"scrape\"}",
       "invalid JSON: a request is one JSON object", std::nullopt, false},
      {"{}", "invalid action: announce or scrape", std::nullopt, false},
      {"{\"action\":\"connect\"}", "invalid action: announce or scrape", std::nullopt, false},
      {"{\"action\":1}", "invalid action: announce or scrape", std::nullopt, false},
      {"{\"action\":\"announce\",\"info_hash\":" + bad20 + "}", "invalid info_hash",
       TrackerAction::kAnnounce, false},
      {"{\"action\":\"announce\",\"info_hash\":" + wide + "}", "invalid info_hash",
       TrackerAction::kAnnounce, false},
      {"{\"action\":\"announce\",\"info_hash\":" + Js(kHash) + "}", "invalid peer_id",
       TrackerAction::kAnnounce, true},
      {"{\"action\":\"announce\",\"info_hash\":" + Js(kHash) + ",\"peer_id\":" + bad20 + "}",
       "invalid peer_id", TrackerAction::kAnnounce, true},
      {Announce(",\"event\":\"begun\""), "invalid event", TrackerAction::kAnnounce, true},
      {Announce(",\"event\":3"), "invalid event", TrackerAction::kAnnounce, true},
      {Announce(",\"answer\":{}"), "invalid `to_peer_id` (required with `answer`)",
       TrackerAction::kAnnounce, true},
      {Announce(",\"answer\":{},\"to_peer_id\":" + Js(kOther)),
       "invalid `offer_id` (required with `answer`)", TrackerAction::kAnnounce, true},
      {Announce(",\"answer\":\"sdp\",\"to_peer_id\":" + Js(kOther)), "invalid answer: an object",
       TrackerAction::kAnnounce, true},
      {Announce(",\"offers\":{}"), "invalid offers: a list of {offer_id, offer}",
       TrackerAction::kAnnounce, true},
      {Announce(",\"offers\":[1]"), "invalid offers: a list of {offer_id, offer}",
       TrackerAction::kAnnounce, true},
      {Announce(",\"offers\":[{\"offer_id\":\"a\"}]"),
       "invalid offers: a list of {offer_id, offer}", TrackerAction::kAnnounce, true},
      {Announce(",\"offers\":[{\"offer_id\":7,\"offer\":{}}]"),
       "invalid offers: a list of {offer_id, offer}", TrackerAction::kAnnounce, true},
      {Announce(",\"offers\":[{\"offer_id\":\"a\",\"offer\":\"sdp\"}]"),
       "invalid offers: a list of {offer_id, offer}", TrackerAction::kAnnounce, true},
      {Announce(",\"offers\":[{\"offer_id\":\"a\",\"offer\":{},\"offer\":{}}]"),
       "invalid JSON: a request is one JSON object", std::nullopt, false},
      {Announce(",\"offers\":[{\"offer_id\":\"a\",\"offer\":{}},{\"offer_id\":\"b\",\"offer\":{}},"
                "{\"offer_id\":\"c\",\"offer\":{}},{\"offer_id\":\"d\",\"offer\":{}}]"),
       "too many offers", TrackerAction::kAnnounce, true},
      {"{\"action\":\"scrape\"}",
       "scrape needs info_hash (one or a list): every swarm is not listed", TrackerAction::kScrape,
       false},
      {"{\"action\":\"scrape\",\"info_hash\":" + bad20 + "}", "invalid info_hash",
       TrackerAction::kScrape, false},
      {"{\"action\":\"scrape\",\"info_hash\":[" + Js(kHash) + ",1]}", "invalid info_hash",
       TrackerAction::kScrape, false},
      {"{\"action\":\"scrape\",\"info_hash\":[" + Js(kHash) + "," + Js(kHash) + "," + Js(kHash) +
           "]}",
       "too many info_hash in one scrape", TrackerAction::kScrape, false},
  };
  for (const Case& c : cases) {
    const auto failure = Parse(c.text);
    ASSERT_TRUE(failure) << c.text;
    EXPECT_EQ(failure->reason, c.reason) << c.text;
    EXPECT_EQ(failure->action, c.action) << c.text;
    EXPECT_EQ(failure->info_hash, c.names_hash ? kHash : "") << c.text;
  }
}

TEST(TrackerFramesTest, AnnounceReplyHasTheCountsAndTheSwarm) {
  const Frame frame = BuildTrackerAnnounceReply(kHash, 3, 4, 120);
  const Json::Value v = ParseJson(frame.body());
  EXPECT_EQ(v["action"].asString(), "announce");
  EXPECT_EQ(Bytes(v["info_hash"]), kHash);
  EXPECT_EQ(v["complete"].asUInt64(), 3u);
  EXPECT_EQ(v["incomplete"].asUInt64(), 4u);
  EXPECT_EQ(v["interval"].asUInt(), 120u);
  EXPECT_EQ(v.size(), 5u);
}

TEST(TrackerFramesTest, OfferAndAnswerCarryTheirSdpBytesUntouched) {
  const std::string sdp = "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0\\r\\n\"}";
  const Frame offer = BuildTrackerOfferFrame(kHash, kPeer, TrackerOffer{Js(kOther), sdp});
  EXPECT_NE(offer.body().find(sdp), std::string_view::npos);
  const Json::Value o = ParseJson(offer.body());
  EXPECT_EQ(o["action"].asString(), "announce");
  EXPECT_EQ(Bytes(o["info_hash"]), kHash);
  EXPECT_EQ(Bytes(o["peer_id"]), kPeer);
  EXPECT_EQ(Bytes(o["offer_id"]), kOther);
  EXPECT_EQ(o["offer"]["type"].asString(), "offer");
  EXPECT_FALSE(o.isMember("answer"));

  const Frame answer = BuildTrackerAnswerFrame(kHash, kOther, "\"id-1\"", "{\"sdp\":\"a\"}");
  const Json::Value a = ParseJson(answer.body());
  EXPECT_EQ(Bytes(a["peer_id"]), kOther);
  EXPECT_EQ(a["offer_id"].asString(), "id-1");
  EXPECT_EQ(a["answer"]["sdp"].asString(), "a");
  EXPECT_FALSE(a.isMember("offer"));
}

TEST(TrackerFramesTest, ScrapeReplyKeysFilesByBinaryInfoHash) {
  const Frame frame = BuildTrackerScrapeReply({{kHash, 1, 2, 3}, {kOther, 0, 0, 0}}, 600);
  const Json::Value v = ParseJson(frame.body());
  EXPECT_EQ(v["action"].asString(), "scrape");
  EXPECT_EQ(v["flags"]["min_request_interval"].asUInt(), 600u);
  ASSERT_EQ(v["files"].size(), 2u);
  for (const std::string& name : v["files"].getMemberNames()) {
    const std::string hash = Bytes(Json::Value(name));
    const Json::Value& f = v["files"][name];
    if (hash == kHash) {
      EXPECT_EQ(f["complete"].asUInt(), 1u);
      EXPECT_EQ(f["incomplete"].asUInt(), 2u);
      EXPECT_EQ(f["downloaded"].asUInt(), 3u);
    } else {
      EXPECT_EQ(hash, kOther);
      EXPECT_EQ(f["complete"].asUInt(), 0u);
    }
  }
  EXPECT_EQ(ParseJson(BuildTrackerScrapeReply({}, 1).body())["files"].size(), 0u);
}

TEST(TrackerFramesTest, FailureNamesWhatIsKnown) {
  const Json::Value bare =
      ParseJson(BuildTrackerFailure({"invalid JSON", std::nullopt, {}}).body());
  EXPECT_EQ(bare["failure reason"].asString(), "invalid JSON");
  EXPECT_EQ(bare.size(), 1u);
  const Json::Value full =
      ParseJson(BuildTrackerFailure({"say \"no\"", TrackerAction::kScrape, kHash}).body());
  EXPECT_EQ(full["failure reason"].asString(), "say \"no\"");
  EXPECT_EQ(full["action"].asString(), "scrape");
  EXPECT_EQ(Bytes(full["info_hash"]), kHash);
}

}  // namespace
}  // namespace switchboard::protocol
