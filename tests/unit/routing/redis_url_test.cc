#include "routing/redis_url.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::routing {
namespace {

// Parses `url`, expecting success; describes the address as one line.
std::string Parsed(std::string_view url) {
  std::string error;
  const std::optional<RedisAddress> address = ParseRedisUrl(url, &error);
  if (!address) return "refused: " + error;
  return "host=" + address->host + " port=" + std::to_string(address->port) +
         " user=" + address->user + " password=" + address->password +
         " db=" + std::to_string(address->db);
}

// Parses `url`, expecting a refusal; returns the error ("" if it was accepted).
std::string Refusal(std::string_view url) {
  std::string error;
  const std::optional<RedisAddress> address = ParseRedisUrl(url, &error);
  if (address) return "";
  EXPECT_FALSE(error.empty()) << url << ": refused without saying why";
  return error;
}

TEST(ParseRedisUrlTest, HostAndPort) {
  EXPECT_EQ(Parsed("redis://redis.internal:6380"),
            "host=redis.internal port=6380 user= password= db=0");
  EXPECT_EQ(Parsed("redis://127.0.0.1:1"), "host=127.0.0.1 port=1 user= password= db=0");
  EXPECT_EQ(Parsed("redis://127.0.0.1:65535"), "host=127.0.0.1 port=65535 user= password= db=0");
}

TEST(ParseRedisUrlTest, DefaultPortIs6379) {
  EXPECT_EQ(Parsed("redis://localhost"), "host=localhost port=6379 user= password= db=0");
  EXPECT_EQ(Parsed("redis://localhost/"), "host=localhost port=6379 user= password= db=0");
}

TEST(ParseRedisUrlTest, PasswordOnly) {
  EXPECT_EQ(Parsed("redis://:s3cret@h"), "host=h port=6379 user= password=s3cret db=0");
  EXPECT_EQ(Parsed("redis://:s3cret@h:7000/2"), "host=h port=7000 user= password=s3cret db=2");
}

TEST(ParseRedisUrlTest, ABareCredentialIsReadAsThePassword) {
  // As redis-cli reads it: redis://secret@host authenticates with "secret" as the password.
  EXPECT_EQ(Parsed("redis://s3cret@h"), "host=h port=6379 user= password=s3cret db=0");
}

TEST(ParseRedisUrlTest, UserAndPassword) {
  EXPECT_EQ(Parsed("redis://alice:s3cret@h:6390"),
            "host=h port=6390 user=alice password=s3cret db=0");
  // Only the first colon separates user from password.
  EXPECT_EQ(Parsed("redis://alice:a:b@h"), "host=h port=6379 user=alice password=a:b db=0");
  // The last @ ends the credentials.
  EXPECT_EQ(Parsed("redis://alice:p@ss@h"), "host=h port=6379 user=alice password=p@ss db=0");
}

TEST(ParseRedisUrlTest, PercentEscapesInCredentialsAreDecoded) {
  EXPECT_EQ(Parsed("redis://al%69ce:p%40ss%3Aw%2fd%25@h"),
            "host=h port=6379 user=alice password=p@ss:w/d% db=0");
  EXPECT_EQ(Parsed("redis://:%41%4a%4A%7e@h"), "host=h port=6379 user= password=AJJ~ db=0");
  EXPECT_EQ(Parsed("redis://%61@h"), "host=h port=6379 user= password=a db=0");
}

TEST(ParseRedisUrlTest, Database) {
  EXPECT_EQ(Parsed("redis://h:6379/0"), "host=h port=6379 user= password= db=0");
  EXPECT_EQ(Parsed("redis://h:6379/15"), "host=h port=6379 user= password= db=15");
  EXPECT_EQ(Parsed("redis://h/3"), "host=h port=6379 user= password= db=3");
}

TEST(ParseRedisUrlTest, IPv6) {
  EXPECT_EQ(Parsed("redis://[::1]:6380"), "host=::1 port=6380 user= password= db=0");
  EXPECT_EQ(Parsed("redis://[::1]"), "host=::1 port=6379 user= password= db=0");
  EXPECT_EQ(Parsed("redis://:pw@[fe80::1]:7000/4"),
            "host=fe80::1 port=7000 user= password=pw db=4");
}

TEST(ParseRedisUrlTest, RefusesOtherSchemes) {
  const std::string scheme_error = Refusal("http://h:6379");
  EXPECT_NE(scheme_error.find("redis://"), std::string::npos) << scheme_error;
  EXPECT_EQ(Refusal("rediss://h:6379"), scheme_error);
  EXPECT_EQ(Refusal("redis:/h"), scheme_error);
  EXPECT_EQ(Refusal("h:6379"), scheme_error);
  EXPECT_EQ(Refusal(""), scheme_error);
}

TEST(ParseRedisUrlTest, RefusesAnEmptyHost) {
  EXPECT_EQ(Refusal("redis://"), "the host is missing");
  EXPECT_EQ(Refusal("redis://:6379"), "the host is missing");
  EXPECT_EQ(Refusal("redis://:pw@"), "the host is missing");
  EXPECT_EQ(Refusal("redis://:pw@:6379/1"), "the host is missing");
  EXPECT_EQ(Refusal("redis:///0"), "the host is missing");
  EXPECT_EQ(Refusal("redis://[]:6379"), "the host is missing");
}

TEST(ParseRedisUrlTest, RefusesABadPort) {
  const std::string port_error = "the port must be a number from 1 to 65535";
  EXPECT_EQ(Refusal("redis://h:0"), port_error);
  EXPECT_EQ(Refusal("redis://h:65536"), port_error);
  EXPECT_EQ(Refusal("redis://h:99999999999"), port_error);
  EXPECT_EQ(Refusal("redis://h:-1"), port_error);
  EXPECT_EQ(Refusal("redis://h:http"), port_error);
  EXPECT_EQ(Refusal("redis://h:63x79"), port_error);
  EXPECT_EQ(Refusal("redis://h:"), port_error);
  EXPECT_EQ(Refusal("redis://h: 6379"), port_error);
  EXPECT_EQ(Refusal("redis://[::1]:0"), port_error);
  EXPECT_EQ(Refusal("redis://[::1]6379"), port_error);
}

TEST(ParseRedisUrlTest, RefusesAnUnclosedIPv6Bracket) {
  EXPECT_EQ(Refusal("redis://[::1:6379"), "unclosed [ in the host");
}

TEST(ParseRedisUrlTest, RefusesABadDatabase) {
  const std::string db_error = "the database must be a number";
  EXPECT_EQ(Refusal("redis://h:6379/x"), db_error);
  EXPECT_EQ(Refusal("redis://h:6379/1x"), db_error);
  EXPECT_EQ(Refusal("redis://h:6379/-1"), db_error);
  EXPECT_EQ(Refusal("redis://h/0/1"), db_error);
  EXPECT_EQ(Refusal("redis://h/ 1"), db_error);
}

TEST(ParseRedisUrlTest, RefusesABadPercentEscape) {
  const std::string escape_error = "bad percent-escape in the credentials";
  EXPECT_EQ(Refusal("redis://:pw%@h"), escape_error);
  EXPECT_EQ(Refusal("redis://:pw%4@h"), escape_error);
  EXPECT_EQ(Refusal("redis://:pw%zz@h"), escape_error);
  EXPECT_EQ(Refusal("redis://:%g1@h"), escape_error);
  EXPECT_EQ(Refusal("redis://us%2@h"), escape_error);
  EXPECT_EQ(Refusal("redis://us%Xer:pw@h"), escape_error);
}

TEST(ParseRedisUrlTest, LeavesTheErrorAloneOnSuccess) {
  std::string error = "untouched";
  ASSERT_TRUE(ParseRedisUrl("redis://h", &error).has_value());
  EXPECT_EQ(error, "untouched");
}

}  // namespace
}  // namespace switchboard::routing
