#include "protocol/strict_json.h"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::protocol {
namespace {

TEST(StrictJsonTest, AcceptsRfcNumbersAndStrings) {
  for (const char* text : {R"({"a":0})", R"({"a":-0.5e+10})", R"({"a":[1,2.25,3E-2]})",
                           R"({"a":"01 +1 - 1. \" \\ \n"})", R"({"a":"\u0001"})"}) {
    EXPECT_TRUE(HasOnlyStrictJsonTokens(text)) << text;
  }
}

TEST(StrictJsonTest, RefusesWhatJsoncppLetsThrough) {
  using namespace std::string_literals;
  for (const std::string& text :
       {R"({"a":01})"s, R"({"a":+1})"s, R"({"a":1.})"s, R"({"a":-})"s, R"({"a":.5})"s,
        R"({"a":1e})"s, "{\"a\":\"line\nbreak\"}"s, "{\"a\":\"nul\0\"}"s, R"({"a":1 /* c */})"s,
        "{\"a\":1 // c\n}"s, R"({"":1,})"s, "{\"\":\"\\udc00\" ,\n}"s, R"([1,])"s,
        R"({"a":{"":[],}})"s}) {
    EXPECT_FALSE(HasOnlyStrictJsonTokens(text)) << text;
  }
}

}  // namespace
}  // namespace switchboard::protocol
