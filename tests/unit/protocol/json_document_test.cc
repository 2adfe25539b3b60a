#include "protocol/json_document.h"

#include <gtest/gtest.h>
#include <json/json.h>

#include <string>
#include <string_view>

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

TEST_F(JsonDocumentTest, RootIsNullBeforeTheFirstParse) { EXPECT_TRUE(document_.root().isNull()); }

TEST_F(JsonDocumentTest, ParsesAnObject) {
  const std::string text = R"({"type":"OFFER","n":1,"list":[true,null],"o":{}})";
  ASSERT_TRUE(document_.Parse(text));
  const Json::Value& root = document_.root();
  ASSERT_TRUE(root.isObject());
  EXPECT_EQ(root["type"].asString(), "OFFER");
  EXPECT_EQ(root["n"].asInt(), 1);
  EXPECT_TRUE(root["list"].isArray());
  EXPECT_TRUE(root["o"].isObject());
}

TEST_F(JsonDocumentTest, AcceptsScalarAndArrayRoots) {
  // Callers that need an object check the root themselves.
  for (std::string_view text : {"17", "-0.5e3", R"("s")", "true", "false", "null", "[]", "[1]"}) {
    EXPECT_TRUE(document_.Parse(text)) << text;
  }
}

TEST_F(JsonDocumentTest, AcceptsSurroundingWhitespace) {
  EXPECT_TRUE(document_.Parse(" \t\r\n{\"a\":1} \t\r\n"));
  EXPECT_EQ(document_.root()["a"].asInt(), 1);
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
  EXPECT_EQ(document_.root()["a"].asString(), "// not a comment /* nor this */");
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
  EXPECT_EQ(document_.RawSlice(document_.root()["b"]), R"({"c":2})");

  ASSERT_TRUE(document_.Parse(second));
  const Json::Value& root = document_.root();
  EXPECT_EQ(JsonDocument::Member(root, "a"), nullptr);
  EXPECT_EQ(JsonDocument::Member(root, "b"), nullptr);
  const Json::Value* x = JsonDocument::Member(root, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(document_.RawSlice(*x), "[10, 20]");
  EXPECT_EQ(document_.RawSlice(root), second);
  EXPECT_EQ(root.size(), 1u);
}

TEST_F(JsonDocumentTest, ReparseWithADifferentRootType) {
  ASSERT_TRUE(document_.Parse(R"({"a":1})"));
  ASSERT_TRUE(document_.Parse("[1,2,3]"));
  EXPECT_TRUE(document_.root().isArray());
  EXPECT_EQ(document_.root().size(), 3u);
  ASSERT_TRUE(document_.Parse(R"("s")"));
  EXPECT_EQ(JsonDocument::StringOf(document_.root()), "s");
  ASSERT_TRUE(document_.Parse(R"({"b":2})"));
  EXPECT_EQ(JsonDocument::Member(document_.root(), "a"), nullptr);
  EXPECT_NE(JsonDocument::Member(document_.root(), "b"), nullptr);
}

TEST_F(JsonDocumentTest, ParsesAgainAfterARefusal) {
  EXPECT_FALSE(document_.Parse(R"({"a":)"));
  EXPECT_FALSE(document_.Parse(NestedArrays(100)));
  EXPECT_FALSE(document_.Parse("{\"a\":1}\0x"s));
  const std::string text = R"({"ok":[1,{"deep":true}]})";
  ASSERT_TRUE(document_.Parse(text));
  const Json::Value* ok = JsonDocument::Member(document_.root(), "ok");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(document_.RawSlice(*ok), R"([1,{"deep":true}])");
  EXPECT_EQ(document_.RawSlice((*ok)[1]), R"({"deep":true})");
}

TEST_F(JsonDocumentTest, SeparateDocumentsAreIndependent) {
  JsonDocument other;
  const std::string a = R"({"v":"a"})";
  const std::string b = R"({"v":"bb"})";
  ASSERT_TRUE(document_.Parse(a));
  ASSERT_TRUE(other.Parse(b));
  EXPECT_EQ(document_.RawSlice(document_.root()["v"]), R"("a")");
  EXPECT_EQ(other.RawSlice(other.root()["v"]), R"("bb")");
}

// --- RawSlice ----------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, RawSliceIsTheExactBytes) {
  const std::string text =
      "{ \"sdp\" : \"v=0\\r\\no=- 1\" ,\n \"obj\":{ \"a\" :\t[ 1 ,2 ] } , \"num\" : -12.5e+3 ,"
      " \"esc\":\"\\u00e9 \\\" \\\\\", \"t\":true, \"n\":null, \"e\":[ ] }";
  ASSERT_TRUE(document_.Parse(text));
  const Json::Value& root = document_.root();
  EXPECT_EQ(document_.RawSlice(root), text);
  EXPECT_EQ(document_.RawSlice(root["sdp"]), R"("v=0\r\no=- 1")");
  EXPECT_EQ(document_.RawSlice(root["obj"]), "{ \"a\" :\t[ 1 ,2 ] }");
  EXPECT_EQ(document_.RawSlice(root["obj"]["a"]), "[ 1 ,2 ]");
  EXPECT_EQ(document_.RawSlice(root["obj"]["a"][1]), "2");
  EXPECT_EQ(document_.RawSlice(root["num"]), "-12.5e+3");
  EXPECT_EQ(document_.RawSlice(root["esc"]), R"("\u00e9 \" \\")");
  EXPECT_EQ(document_.RawSlice(root["t"]), "true");
  EXPECT_EQ(document_.RawSlice(root["n"]), "null");
  EXPECT_EQ(document_.RawSlice(root["e"]), "[ ]");
}

TEST_F(JsonDocumentTest, RawSliceOfTheRootExcludesSurroundingWhitespace) {
  const std::string text = "  \n[1, 2]\t ";
  ASSERT_TRUE(document_.Parse(text));
  EXPECT_EQ(document_.RawSlice(document_.root()), "[1, 2]");
}

TEST_F(JsonDocumentTest, RawSlicePointsIntoTheParsedText) {
  const std::string text = R"({"p":{"k":"v"}})";
  ASSERT_TRUE(document_.Parse(text));
  const std::string_view slice = document_.RawSlice(document_.root()["p"]);
  EXPECT_EQ(slice.data(), text.data() + 5);
  EXPECT_EQ(slice.size(), 9u);
}

TEST_F(JsonDocumentTest, RawSliceKeepsUtf8BytesAsTheyAre) {
  const std::string text = "{\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
  ASSERT_TRUE(document_.Parse(text));
  EXPECT_EQ(document_.RawSlice(document_.root()["s"]), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
}

// --- Member ------------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, MemberFindsAMember) {
  ASSERT_TRUE(document_.Parse(R"({"type":"OFFER","dst":"bob","payload":null})"));
  const Json::Value* type = JsonDocument::Member(document_.root(), "type");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->asString(), "OFFER");
  const Json::Value* payload = JsonDocument::Member(document_.root(), "payload");
  ASSERT_NE(payload, nullptr);
  EXPECT_TRUE(payload->isNull());
}

TEST_F(JsonDocumentTest, MemberIsNullWhenMissing) {
  ASSERT_TRUE(document_.Parse(R"({"type":"OFFER","obj":{"inner":1}})"));
  EXPECT_EQ(JsonDocument::Member(document_.root(), "dst"), nullptr);
  EXPECT_EQ(JsonDocument::Member(document_.root(), "Type"), nullptr);
  EXPECT_EQ(JsonDocument::Member(document_.root(), "typ"), nullptr);
  EXPECT_EQ(JsonDocument::Member(document_.root(), "type "), nullptr);
  EXPECT_EQ(JsonDocument::Member(document_.root(), ""), nullptr);
  // Members of nested objects are not members of the root.
  EXPECT_EQ(JsonDocument::Member(document_.root(), "inner"), nullptr);
  ASSERT_TRUE(document_.Parse("{}"));
  EXPECT_EQ(JsonDocument::Member(document_.root(), "type"), nullptr);
}

TEST_F(JsonDocumentTest, MemberUsesTheWholeNameAndNothingMore) {
  ASSERT_TRUE(document_.Parse(R"({"type":"OFFER","ty":1})"));
  // A view that is not NUL-terminated where it ends.
  const std::string_view longer = "types";
  const Json::Value* type = JsonDocument::Member(document_.root(), longer.substr(0, 4));
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->asString(), "OFFER");
  const Json::Value* ty = JsonDocument::Member(document_.root(), longer.substr(0, 2));
  ASSERT_NE(ty, nullptr);
  EXPECT_EQ(ty->asInt(), 1);
}

TEST_F(JsonDocumentTest, MemberFindsEscapedAndEmptyNames) {
  ASSERT_TRUE(document_.Parse(R"({"d\u0073t":"bob","":2})"));
  const Json::Value* dst = JsonDocument::Member(document_.root(), "dst");
  ASSERT_NE(dst, nullptr);
  EXPECT_EQ(dst->asString(), "bob");
  const Json::Value* empty = JsonDocument::Member(document_.root(), "");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->asInt(), 2);
}

TEST_F(JsonDocumentTest, MemberOfANestedObject) {
  ASSERT_TRUE(document_.Parse(R"({"payload":{"msg":"hi"}})"));
  const Json::Value* payload = JsonDocument::Member(document_.root(), "payload");
  ASSERT_NE(payload, nullptr);
  const Json::Value* msg = JsonDocument::Member(*payload, "msg");
  ASSERT_NE(msg, nullptr);
  EXPECT_EQ(JsonDocument::StringOf(*msg), "hi");
}

// --- StringOf ----------------------------------------------------------------------------------

TEST_F(JsonDocumentTest, StringOfIsTheDecodedText) {
  ASSERT_TRUE(document_.Parse(
      R"({"plain":"bob","esc":"peer\u0020a","q":"a\"b\\c\/d","e":"","u":"\u00e9\ud83d\ude00"})"));
  const Json::Value& root = document_.root();
  EXPECT_EQ(JsonDocument::StringOf(root["plain"]), "bob");
  EXPECT_EQ(JsonDocument::StringOf(root["esc"]), "peer a");
  EXPECT_EQ(JsonDocument::StringOf(root["q"]), "a\"b\\c/d");
  EXPECT_EQ(JsonDocument::StringOf(root["e"]), "");
  EXPECT_EQ(JsonDocument::StringOf(root["u"]), "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_F(JsonDocumentTest, StringOfKeepsAnEscapedNul) {
  ASSERT_TRUE(document_.Parse(R"({"s":"a\u0000b"})"));
  EXPECT_EQ(JsonDocument::StringOf(document_.root()["s"]), "a\0b"s);
}

TEST_F(JsonDocumentTest, StringOfANonStringIsEmpty) {
  ASSERT_TRUE(document_.Parse(
      R"({"i":1,"neg":-2,"f":1.5,"t":true,"b":false,"n":null,"a":["x"],"o":{"x":"y"}})"));
  const Json::Value& root = document_.root();
  for (const char* name : {"i", "neg", "f", "t", "b", "n", "a", "o"}) {
    const Json::Value* value = JsonDocument::Member(root, name);
    ASSERT_NE(value, nullptr) << name;
    EXPECT_TRUE(JsonDocument::StringOf(*value).empty()) << name;
  }
  EXPECT_TRUE(JsonDocument::StringOf(root).empty());
  EXPECT_TRUE(JsonDocument::StringOf(Json::Value()).empty());
}

TEST_F(JsonDocumentTest, StringOfAStringRoot) {
  ASSERT_TRUE(document_.Parse(R"("HEARTBEAT")"));
  EXPECT_EQ(JsonDocument::StringOf(document_.root()), "HEARTBEAT");
}

}  // namespace
}  // namespace switchboard::protocol
