#include "protocol/json_document.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {
namespace {

using std::string_literals::operator""s;

// `depth` arrays nested in one another: "[[...]]".
std::string NestedArrays(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

class JsonDocumentTest : public testing::Test {
 protected:
  JsonDocument document_;
};

// --- Parse -------------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, RootIsNullBeforeTheFirstParse) {
  EXPECT_EQ(document_.root_type(), JsonType::kNull);
  EXPECT_EQ(document_.Member("a"), nullptr);
}

TEST_F(JsonDocumentTest, ParsesAnObject) {
  const std::string text = R"({"type":"OFFER","n":1,"list":[true,null],"o":{}})";
  ASSERT_TRUE(document_.Parse(text));
  ASSERT_EQ(document_.root_type(), JsonType::kObject);
  ASSERT_NE(document_.Member("type"), nullptr);
  EXPECT_EQ(document_.Member("type")->type, JsonType::kString);
  EXPECT_EQ(document_.Member("type")->string, "OFFER");
  EXPECT_EQ(document_.Member("type")->raw, R"("OFFER")");
  EXPECT_EQ(document_.Member("n")->type, JsonType::kNumber);
  EXPECT_EQ(document_.Member("n")->raw, "1");
  EXPECT_EQ(document_.Member("list")->type, JsonType::kArray);
  EXPECT_EQ(document_.Member("list")->raw, "[true,null]");
  EXPECT_EQ(document_.Member("o")->type, JsonType::kObject);
  EXPECT_EQ(document_.Member("missing"), nullptr);
}

TEST_F(JsonDocumentTest, DecodesEscapedNamesAndStrings) {
  ASSERT_TRUE(document_.Parse(R"({"t\u0079pe":"a\"b\u00e9"})"));
  const JsonMember* type = document_.Member("type");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->string, "a\"b\xc3\xa9");
  EXPECT_EQ(type->raw, R"("a\"b\u00e9")");
}

TEST_F(JsonDocumentTest, RawSlicesPointIntoTheTextAndSkipWhitespace) {
  const std::string text = "{ \"p\" : { \"sdp\" : \"v=0\" } ,\n \"n\" : -1.5e3 }";
  ASSERT_TRUE(document_.Parse(text));
  const JsonMember* p = document_.Member("p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->raw, R"({ "sdp" : "v=0" })");
  EXPECT_GE(p->raw.data(), text.data());
  EXPECT_LE(p->raw.data() + p->raw.size(), text.data() + text.size());
  EXPECT_EQ(document_.Member("n")->raw, "-1.5e3");
}

TEST_F(JsonDocumentTest, AcceptsScalarAndArrayRoots) {
  // Callers that need an object check the root themselves.
  for (std::string_view text : {"17", "-0.5e3", R"("s")", "true", "false", "null", "[]", "[1]"}) {
    EXPECT_TRUE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, AcceptsSurroundingWhitespace) {
  EXPECT_TRUE(document_.Parse(" \t\r\n{\"a\":1} \t\r\n"));
  EXPECT_EQ(document_.Member("a")->raw, "1");
}

TEST_F(JsonDocumentTest, RefusesTextThatIsNotJson) {
  for (std::string_view text : {
           "",
           "   ",
           "hello",
           "{a:1}",
           "{'a':1}",
           R"({"a":1,})",
           "[1,]",
           R"({"a":1)",
           R"({"a":NaN})",
           R"({"a":Infinity})",
           R"({"a":undefined})",
           R"({"a" 1})",
       }) {
    EXPECT_FALSE(document_.Parse(text)) << text;
  }
}

// Texts that simdjson hands to jsoncpp (a number beyond 64 bits, a lone surrogate escape), with
// a trailing comma after a member whose name is empty: jsoncpp's strict mode lets that comma
// through, and a browser's JSON.parse would not. (Found by a fuzzer.)
TEST_F(JsonDocumentTest, RefusesATrailingCommaInTextJsoncppReads) {
  for (std::string_view text : {
           R"({"type":"offer","to":"bob","payload":{"":"\udc00",}})",
           R"({"":"\udc00",})",
           R"({"":123456789012345678901234567890,})",
           R"({"a":[123456789012345678901234567890,]})",
       }) {
    EXPECT_FALSE(document_.Parse(text)) << text;
  }
  EXPECT_TRUE(document_.Parse(R"({"":"\udc00","a":123456789012345678901234567890})"))
      << "without the comma, both are RFC 8259 JSON";
}

TEST_F(JsonDocumentTest, RefusesTrailingGarbage) {
  for (std::string_view text : {R"({"a":1} x)", R"({"a":1}{"a":1})", R"({"a":1}])", "1 2"}) {
    EXPECT_FALSE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, RefusesANulByteFollowedByJunk) {
  EXPECT_FALSE(document_.Parse("{\"a\":1}\0garbage"s));
  EXPECT_FALSE(document_.Parse("{\"a\":1}\0{\"b\":2}"s));
  EXPECT_FALSE(document_.Parse("{\"a\":1} \0 "s));
  EXPECT_FALSE(document_.Parse("{\"a\":1}\0"s));
  EXPECT_FALSE(document_.Parse("\0{\"a\":1}"s));
  EXPECT_FALSE(document_.Parse("{\"a\":\"x\0y\"}"s));
}

TEST_F(JsonDocumentTest, RefusesComments) {
  for (std::string_view text : {
           R"({"a":1} // comment)",
           R"({"a":1} /* comment */)",
           "// comment\n{\"a\":1}",
           "/* comment */{\"a\":1}",
           R"({"a":/* comment */1})",
           "{\"a\":1 // comment\n}",
           R"([1,/* c */2])",
       }) {
    EXPECT_FALSE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, AcceptsCommentLikeTextInsideStrings) {
  EXPECT_TRUE(document_.Parse(R"({"a":"// not a comment /* nor this */"})"));
  EXPECT_EQ(document_.Member("a")->string, "// not a comment /* nor this */");
}

TEST_F(JsonDocumentTest, RefusesNumbersThatAreNotStrictJson) {
  for (std::string_view number : {"01", "-01", "00", "+1", "1.", "1.e5", ".5", "-", "1e", "0x10"}) {
    const std::string text = R"({"a":)" + std::string(number) + "}";
    EXPECT_FALSE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, AcceptsStrictNumbers) {
  for (std::string_view number : {"0", "-0", "10", "-1.5", "1e5", "1E+5", "2.5e-3", "0.0"}) {
    const std::string text = R"({"a":)" + std::string(number) + "}";
    EXPECT_TRUE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, RefusesRawControlCharactersInStrings) {
  for (const std::string& text :
       {"{\"a\":\"x\ny\"}"s, "{\"a\":\"x\ty\"}"s, "{\"a\":\"\x1f\"}"s, "{\"x\ny\":1}"s}) {
    EXPECT_FALSE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, RefusesDuplicateKeys) {
  EXPECT_FALSE(document_.Parse(R"({"a":1,"a":2})"));
  EXPECT_FALSE(document_.Parse(R"({"type":"OFFER","dst":"a","dst":"b"})"));
  EXPECT_FALSE(document_.Parse(R"({"payload":{"sdp":"a","sdp":"b"}})"));
  EXPECT_FALSE(document_.Parse(R"({"payload":[{"x":1},{"y":1,"y":2}]})"));
  EXPECT_FALSE(document_.Parse(R"({"\u0061":1,"a":2})"));        // the same key, decoded
  EXPECT_TRUE(document_.Parse(R"({"a":{"a":1},"b":{"a":1}})"));  // same key, other objects
}

TEST_F(JsonDocumentTest, RefusesInvalidUtf8) {
  EXPECT_FALSE(document_.Parse("{\"a\":\"\xff\"}"s));
  EXPECT_FALSE(document_.Parse("{\"a\":\"\xc3\"}"s));
  EXPECT_TRUE(document_.Parse("{\"a\":\"\xc3\xa9\"}"s));
}

TEST_F(JsonDocumentTest, AcceptsNestingUpTo64Levels) {
  EXPECT_TRUE(document_.Parse(NestedArrays(64)));
  EXPECT_FALSE(document_.Parse(NestedArrays(65)));
}

TEST_F(JsonDocumentTest, RefusesDeepNestingWithoutThrowing) {
  bool parsed = true;
  EXPECT_NO_THROW(parsed = document_.Parse(NestedArrays(100)));
  EXPECT_FALSE(parsed);
  std::string objects;
  for (int i = 0; i < 1000; ++i) objects += R"({"a":)";
  objects += "1";
  objects += std::string(1000, '}');
  parsed = true;
  EXPECT_NO_THROW(parsed = document_.Parse(objects));
  EXPECT_FALSE(parsed);
}

// --- Re-parsing --------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, ReparseReplacesTheTree) {
  const std::string first = R"({"a":1,"b":{"c":2}})";
  const std::string second = R"({"x":[10, 20]})";
  ASSERT_TRUE(document_.Parse(first));
  EXPECT_EQ(document_.Member("b")->raw, R"({"c":2})");

  ASSERT_TRUE(document_.Parse(second));
  EXPECT_EQ(document_.Member("a"), nullptr);
  EXPECT_EQ(document_.Member("b"), nullptr);
  const JsonMember* x = document_.Member("x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->raw, "[10, 20]");
}

// simdjson refuses these; jsoncpp, checked by HasOnlyStrictJsonTokens, takes them instead.
TEST_F(JsonDocumentTest, HugeIntegersAndLoneSurrogatesAreStillJson) {
  const std::string text =
      R"({"n":100000000000000000000,"t\u0079pe":"x","payload":{"a":[-9223372036854775809]},)"
      R"("s":"\udc00"})";
  ASSERT_TRUE(document_.Parse(text));
  ASSERT_EQ(document_.root_type(), JsonType::kObject);
  EXPECT_EQ(document_.Member("n")->raw, "100000000000000000000");
  EXPECT_EQ(document_.Member("n")->type, JsonType::kNumber);
  EXPECT_EQ(document_.Member("type")->string, "x");
  EXPECT_EQ(document_.Member("payload")->raw, R"({"a":[-9223372036854775809]})");
  EXPECT_EQ(document_.Member("payload")->type, JsonType::kObject);
  EXPECT_EQ(document_.Member("s")->raw, R"("\udc00")");
  // The slower path is as strict as the fast one.
  EXPECT_FALSE(document_.Parse(R"({"n":100000000000000000000,"n":1})"));
  EXPECT_FALSE(document_.Parse(R"({"n":100000000000000000000,"m":01})"));
  EXPECT_FALSE(document_.Parse(R"({"n":100000000000000000000} x)"));
  EXPECT_FALSE(document_.Parse("{\"s\":\"\\udc00\",\"t\":\"a\nb\"}"));
  EXPECT_FALSE(document_.Parse(R"({"n":100000000000000000000,"m":1}/**/)"));
}

// jsoncpp refuses a high surrogate escape that no \u escape follows; JSON.parse reads it (what
// JSON.stringify writes for a string cut in the middle of an emoji). Found by a fuzzer.
TEST_F(JsonDocumentTest, ReadsAnEscapedLoneHighSurrogate) {
  for (std::string_view text : {
           R"({"type":"message","to":"bob","payload":{"text":"cut \ud83d"}})",
           R"({"s":"\uD8FF\/"})",
           R"(["\ud800"])",
           R"("\udbff")",
           R"(["\ud83d\ude00\ud83d",100000000000000000000])",
       }) {
    EXPECT_TRUE(document_.Parse(text)) << text;
  }
  ASSERT_TRUE(document_.Parse(R"({"type":"message","payload":{"text":"cut \ud83d"},"n":1})"));
  EXPECT_EQ(document_.Member("payload")->raw, R"({"text":"cut \ud83d"})");
  EXPECT_EQ(document_.Member("type")->string, "message");
  EXPECT_EQ(document_.Member("n")->raw, "1");
  // Still refused: what is not JSON with or without the surrogate.
  EXPECT_FALSE(document_.Parse(R"(["\ud800",01])"));
  EXPECT_FALSE(document_.Parse(R"(["\ud800)"));
  EXPECT_FALSE(document_.Parse(R"(["\ud800\x"])"));
  EXPECT_FALSE(document_.Parse(R"({"a":"\ud800","a":1})"));
}

TEST_F(JsonDocumentTest, ParsesFramesLargerThanTheInitialBuffers) {
  const std::string big = R"({"payload":{"sdp":")" + std::string(100000, 'x') + R"("}})";
  ASSERT_TRUE(document_.Parse(big));
  EXPECT_EQ(document_.Member("payload")->raw.size(), big.size() - 12);
}

TEST_F(JsonDocumentTest, ReparseWithADifferentRootType) {
  ASSERT_TRUE(document_.Parse(R"({"a":1})"));
  ASSERT_TRUE(document_.Parse("[1,2,3]"));
  EXPECT_EQ(document_.root_type(), JsonType::kArray);
  EXPECT_EQ(document_.Member("a"), nullptr);
  ASSERT_TRUE(document_.Parse(R"("s")"));
  EXPECT_EQ(document_.root_type(), JsonType::kString);
  ASSERT_TRUE(document_.Parse(R"({"b":2})"));
  EXPECT_EQ(document_.Member("a"), nullptr);
  EXPECT_NE(document_.Member("b"), nullptr);
}

TEST_F(JsonDocumentTest, ParsesAgainAfterARefusal) {
  EXPECT_FALSE(document_.Parse(R"({"a":)"));
  EXPECT_FALSE(document_.Parse(NestedArrays(100)));
  EXPECT_FALSE(document_.Parse("{\"a\":1}\0x"s));
  const std::string text = R"({"ok":[1,{"deep":true}]})";
  ASSERT_TRUE(document_.Parse(text));
  const JsonMember* ok = document_.Member("ok");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->raw, R"([1,{"deep":true}])");
}

TEST_F(JsonDocumentTest, SeparateDocumentsAreIndependent) {
  JsonDocument other;
  const std::string a = R"({"v":"a"})";
  const std::string b = R"({"v":"bb"})";
  ASSERT_TRUE(document_.Parse(a));
  ASSERT_TRUE(other.Parse(b));
  EXPECT_EQ(document_.Member("v")->raw, R"("a")");
  EXPECT_EQ(other.Member("v")->raw, R"("bb")");
}

// --- Raw bytes ---------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, RawIsTheExactBytes) {
  const std::string text =
      "{ \"sdp\" : \"v=0\\r\\no=- 1\" ,\n \"obj\":{ \"a\" :\t[ 1 ,2 ] } , \"num\" : -12.5e+3 ,"
      " \"esc\":\"\\u00e9 \\\" \\\\\", \"t\":true, \"n\":null, \"e\":[ ], \"q\":\"\\\\\\\"}\" }";
  ASSERT_TRUE(document_.Parse(text));
  EXPECT_EQ(document_.Member("sdp")->raw, R"("v=0\r\no=- 1")");
  EXPECT_EQ(document_.Member("obj")->raw, "{ \"a\" :\t[ 1 ,2 ] }");
  EXPECT_EQ(document_.Member("num")->raw, "-12.5e+3");
  EXPECT_EQ(document_.Member("esc")->raw, R"("\u00e9 \" \\")");
  EXPECT_EQ(document_.Member("t")->raw, "true");
  EXPECT_EQ(document_.Member("n")->raw, "null");
  EXPECT_EQ(document_.Member("e")->raw, "[ ]");
  EXPECT_EQ(document_.Member("q")->raw, R"("\\\"}")");
}

TEST_F(JsonDocumentTest, RawOfBracketsInsideStringsDoesNotEndTheValue) {
  const std::string text = R"({"p":{"a":"}]","b":["[{\"",1]},"n":2})";
  ASSERT_TRUE(document_.Parse(text));
  EXPECT_EQ(document_.Member("p")->raw, R"({"a":"}]","b":["[{\"",1]})");
  EXPECT_EQ(document_.Member("n")->raw, "2");
}

TEST_F(JsonDocumentTest, RawPointsIntoTheParsedText) {
  const std::string text = R"({"p":{"k":"v"}})";
  ASSERT_TRUE(document_.Parse(text));
  const std::string_view slice = document_.Member("p")->raw;
  EXPECT_EQ(slice.data(), text.data() + 5);
  EXPECT_EQ(slice.size(), 9u);
}

TEST_F(JsonDocumentTest, RawKeepsUtf8BytesAsTheyAre) {
  const std::string text = "{\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
  ASSERT_TRUE(document_.Parse(text));
  EXPECT_EQ(document_.Member("s")->raw, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
}

// --- Member ------------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, MemberFindsAMember) {
  ASSERT_TRUE(document_.Parse(R"({"type":"OFFER","dst":"bob","payload":null})"));
  const JsonMember* type = document_.Member("type");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->string, "OFFER");
  const JsonMember* payload = document_.Member("payload");
  ASSERT_NE(payload, nullptr);
  EXPECT_EQ(payload->type, JsonType::kNull);
}

TEST_F(JsonDocumentTest, MemberIsNullWhenMissing) {
  ASSERT_TRUE(document_.Parse(R"({"type":"OFFER","obj":{"inner":1}})"));
  for (std::string_view name : {"dst", "Type", "typ", "type ", ""}) {
    EXPECT_EQ(document_.Member(name), nullptr) << name;
  }
  // Members of nested objects are not members of the root.
  EXPECT_EQ(document_.Member("inner"), nullptr);
  ASSERT_TRUE(document_.Parse("{}"));
  EXPECT_EQ(document_.Member("type"), nullptr);
}

TEST_F(JsonDocumentTest, MemberUsesTheWholeNameAndNothingMore) {
  ASSERT_TRUE(document_.Parse(R"({"type":"OFFER","ty":1})"));
  // A view that is not NUL-terminated where it ends.
  const std::string_view longer = "types";
  const JsonMember* type = document_.Member(longer.substr(0, 4));
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->string, "OFFER");
  const JsonMember* ty = document_.Member(longer.substr(0, 2));
  ASSERT_NE(ty, nullptr);
  EXPECT_EQ(ty->raw, "1");
}

TEST_F(JsonDocumentTest, MemberFindsEscapedAndEmptyNames) {
  ASSERT_TRUE(document_.Parse(R"({"d\u0073t":"bob","":2})"));
  const JsonMember* dst = document_.Member("dst");
  ASSERT_NE(dst, nullptr);
  EXPECT_EQ(dst->string, "bob");
  const JsonMember* empty = document_.Member("");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->raw, "2");
}

// --- Decoded strings ---------------------------------------------------------------------------

TEST_F(JsonDocumentTest, StringIsTheDecodedText) {
  ASSERT_TRUE(document_.Parse(
      R"({"plain":"bob","esc":"peer\u0020a","q":"a\"b\\c\/d","e":"","u":"\u00e9\ud83d\ude00"})"));
  EXPECT_EQ(document_.Member("plain")->string, "bob");
  EXPECT_EQ(document_.Member("esc")->string, "peer a");
  EXPECT_EQ(document_.Member("q")->string, "a\"b\\c/d");
  EXPECT_EQ(document_.Member("e")->string, "");
  EXPECT_EQ(document_.Member("e")->type, JsonType::kString);
  EXPECT_EQ(document_.Member("u")->string, "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_F(JsonDocumentTest, StringKeepsAnEscapedNul) {
  ASSERT_TRUE(document_.Parse(R"({"s":"a\u0000b"})"));
  EXPECT_EQ(document_.Member("s")->string, "a\0b"s);
}

TEST_F(JsonDocumentTest, StringOfANonStringIsEmpty) {
  ASSERT_TRUE(document_.Parse(
      R"({"i":1,"neg":-2,"f":1.5,"t":true,"b":false,"n":null,"a":["x"],"o":{"x":"y"}})"));
  for (const char* name : {"i", "neg", "f", "t", "b", "n", "a", "o"}) {
    const JsonMember* value = document_.Member(name);
    ASSERT_NE(value, nullptr) << name;
    EXPECT_NE(value->type, JsonType::kString) << name;
    EXPECT_TRUE(value->string.empty()) << name;
  }
}

TEST_F(JsonDocumentTest, SplitJsonArrayGivesEachElementsBytes) {
  ASSERT_TRUE(document_.Parse(
      R"({"a":[ {"x":"]}\"",  "y":[1,2]} ,"s,]",  -1.5e3,[[]],null, true ]})"));
  std::vector<std::string_view> elements{"stale"};
  SplitJsonArray(document_.Member("a")->raw, &elements);
  EXPECT_EQ(elements, (std::vector<std::string_view>{R"({"x":"]}\"",  "y":[1,2]})", R"("s,]")",
                                                     "-1.5e3", "[[]]", "null", "true"}));
  ASSERT_TRUE(document_.Parse(R"({"e":[ ],"f":[]})"));
  SplitJsonArray(document_.Member("e")->raw, &elements);
  EXPECT_TRUE(elements.empty());
  SplitJsonArray(document_.Member("f")->raw, &elements);
  EXPECT_TRUE(elements.empty());
}

}  // namespace
}  // namespace switchboard::protocol
