#include "server/origin_allowlist.h"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::server {
namespace {

OriginAllowlist Parsed(std::string_view list) {
  std::string error;
  std::optional<OriginAllowlist> allowlist = OriginAllowlist::Parse(list, &error);
  EXPECT_TRUE(allowlist.has_value()) << list << ": " << error;
  return allowlist.value_or(*OriginAllowlist::Parse("*", &error));
}

TEST(OriginAllowlistTest, StarLetsEveryOriginIn) {
  const OriginAllowlist any = Parsed("*");
  EXPECT_TRUE(any.allows_any());
  EXPECT_TRUE(any.Allows("https://anything.example"));
  EXPECT_TRUE(any.Allows("null"));
}

TEST(OriginAllowlistTest, ExactOriginsMatchSchemeHostAndPort) {
  const OriginAllowlist list = Parsed("https://app.example.com, http://localhost:3000");
  EXPECT_FALSE(list.allows_any());
  EXPECT_TRUE(list.Allows("https://app.example.com"));
  EXPECT_TRUE(list.Allows("HTTPS://App.Example.COM")) << "case does not matter";
  EXPECT_TRUE(list.Allows("http://localhost:3000"));
  EXPECT_FALSE(list.Allows("http://app.example.com")) << "another scheme";
  EXPECT_FALSE(list.Allows("https://app.example.com:8443")) << "another port";
  EXPECT_FALSE(list.Allows("http://localhost")) << "another port";
  EXPECT_FALSE(list.Allows("https://app.example.com.evil.net"));
  EXPECT_FALSE(list.Allows("https://evilapp.example.com"));
  EXPECT_FALSE(list.Allows("null"));
  EXPECT_FALSE(list.Allows(""));
}

TEST(OriginAllowlistTest, AStarInTheHostStandsForOneOrMoreHostCharacters) {
  const OriginAllowlist list = Parsed("https://*.example.com");
  EXPECT_TRUE(list.Allows("https://a.example.com"));
  EXPECT_TRUE(list.Allows("https://a.b.example.com"));
  EXPECT_FALSE(list.Allows("https://example.com")) << "one character at least";
  EXPECT_FALSE(list.Allows("https://.example.com")) << "not a host";
  EXPECT_FALSE(list.Allows("http://a.example.com"));
  EXPECT_FALSE(list.Allows("https://a.example.com:444"));
  EXPECT_FALSE(list.Allows("https://a.example.com.evil.net"));
  EXPECT_FALSE(list.Allows("https://evil.net/.example.com")) << "a path is no host";
  EXPECT_FALSE(list.Allows("https://evil.net:1@x.example.com"));
}

TEST(OriginAllowlistTest, NullOnlyWhenListed) {
  EXPECT_TRUE(Parsed("null, https://a.example").Allows("null"));
  EXPECT_FALSE(Parsed("https://a.example").Allows("null"));
}

// Many stars and a long hostile Origin: the match stays linear per star.
TEST(OriginAllowlistTest, ManyStarsDoNotBlowUp) {
  const OriginAllowlist list = Parsed("https://*a*a*a*a*a*a*a*a*a*a*a*a*b.example");
  EXPECT_FALSE(list.Allows("https://" + std::string(500, 'a') + ".example"));
  EXPECT_TRUE(list.Allows("https://" + std::string(30, 'a') + "b.example"));
}

TEST(OriginAllowlistTest, RefusesWhatIsNotAnOrigin) {
  for (std::string_view list :
       {"", " ", "https://a.example,", "https://a.example/", "https://a.example/path", "a.example",
        "://a.example", "https://", "https://a.example:", "https://a.example:80x",
        "https://a.example:*", "*://a.example", "https://a b.example", "https://a.example?x"}) {
    std::string error;
    EXPECT_FALSE(OriginAllowlist::Parse(list, &error).has_value()) << "[" << list << "]";
    EXPECT_FALSE(error.empty()) << list;
  }
}

}  // namespace
}  // namespace switchboard::server
