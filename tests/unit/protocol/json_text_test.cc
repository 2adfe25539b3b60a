#include "protocol/json_text.h"

#include <gtest/gtest.h>
#include <json/json.h>

#include <memory>
#include <string>
#include <string_view>

#include "protocol/frame.h"

namespace switchboard::protocol {
namespace {

using std::string_literals::operator""s;

std::string Quote(std::string_view text) {
  Frame frame;
  AppendJsonString(frame, text);
  return std::string(frame.body());
}

// Parses `json` (a JSON string literal) back with jsoncpp, in strict mode.
std::string Unquote(const std::string& json) {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder.settings_["strictRoot"] = false;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  EXPECT_TRUE(reader->parse(json.data(), json.data() + json.size(), &value, &errors))
      << json << ": " << errors;
  EXPECT_TRUE(value.isString()) << json;
  return value.isString() ? value.asString() : std::string();
}

TEST(AppendJsonStringTest, QuotesPlainText) { EXPECT_EQ(Quote("laptop"), R"("laptop")"); }

TEST(AppendJsonStringTest, QuotesEmptyText) { EXPECT_EQ(Quote(""), R"("")"); }

TEST(AppendJsonStringTest, EscapesQuoteAndBackslash) {
  EXPECT_EQ(Quote(R"(a"b\c)"), R"("a\"b\\c")");
}

TEST(AppendJsonStringTest, EscapesControlCharacters) {
  EXPECT_EQ(Quote("a\nb"), R"("a\u000ab")");
  EXPECT_EQ(Quote("\x01"), R"("\u0001")");
  EXPECT_EQ(Quote("\x1f\t\r"), R"("\u001f\u0009\u000d")");
  EXPECT_EQ(Quote("\0"s), R"("\u0000")");
}

TEST(AppendJsonStringTest, CopiesUtf8BytesAsTheyAre) {
  EXPECT_EQ(Quote("caf\xc3\xa9 \xe2\x9c\x93"), "\"caf\xc3\xa9 \xe2\x9c\x93\"");
}

TEST(AppendJsonStringTest, CopiesEveryLengthOfUtf8) {
  EXPECT_EQ(Quote("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"),
            "\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");
}

// Bytes that are not UTF-8 (a log line quoting raw bytes from the wire) must not make the line
// invalid JSON: each becomes the replacement character.
TEST(AppendJsonStringTest, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(Quote("a\xff"
                  "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(Quote("\x80"), R"("\ufffd")") << "a lone continuation byte";
  EXPECT_EQ(Quote("\xc3"), R"("\ufffd")") << "cut short (a log line truncated mid-character)";
  EXPECT_EQ(Quote("\xe2\x9c"), R"("\ufffd\ufffd")");
  EXPECT_EQ(Quote("\xc0\xaf"), R"("\ufffd\ufffd")") << "overlong";
  EXPECT_EQ(Quote("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")") << "overlong";
  EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")") << "a surrogate";
  EXPECT_EQ(Quote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")") << "above U+10FFFF";
  EXPECT_EQ(Quote("\xf5\x80"), R"("\ufffd\ufffd")");
  EXPECT_EQ(Quote("\xe2\x9c\x93\xff"), "\"\xe2\x9c\x93\\ufffd\"");
}

TEST(AppendJsonStringTest, LeavesSpaceSlashAndDelAlone) {
  EXPECT_EQ(Quote(" /\x7f~"), "\" /\x7f~\"");
}

TEST(AppendJsonStringTest, AppendsAfterExistingBody) {
  Frame frame;
  frame.Append("x=");
  AppendJsonString(frame, "y");
  EXPECT_EQ(frame.body(), R"(x="y")");
}

TEST(AppendJsonStringTest, RoundTripsThroughJsoncpp) {
  const std::string kTexts[] = {
      "plain",        R"(quote " and backslash \)", "new\nline", "\x01\x02\x1f",
      "nul\0inside"s, "caf\xc3\xa9 \xe2\x9c\x93",   "",
  };
  for (const std::string& text : kTexts) {
    EXPECT_EQ(Unquote(Quote(text)), text);
  }
  EXPECT_EQ(Unquote(Quote("bad \xff\xfe bytes")), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
}

}  // namespace
}  // namespace switchboard::protocol
