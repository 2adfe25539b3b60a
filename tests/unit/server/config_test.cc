#include "server/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace switchboard::server {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  ConfigAction Parse(const std::vector<std::string>& args) {
    config_ = Config{};
    error_.clear();
    return ParseConfig(
        args,
        [this](const char* name) -> const char* {
          auto it = env_.find(name);
          return it == env_.end() ? nullptr : it->second.c_str();
        },
        "host-7", &config_, &error_);
  }

  std::map<std::string, std::string> env_;
  Config config_;
  std::string error_;
};

TEST_F(ConfigTest, DefaultsMatchTheDocumentedOnes) {
  ASSERT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_EQ(config_.host, "0.0.0.0");
  EXPECT_EQ(config_.port, 8080);
  EXPECT_EQ(config_.expire_ms, 5000);
  EXPECT_EQ(config_.max_message_bytes, 65536);
  EXPECT_EQ(config_.pod_id, "host-7");
  EXPECT_EQ(config_.log_level, "info");
}

TEST_F(ConfigTest, FlagsInBothSpellings) {
  ASSERT_EQ(Parse({"--port", "9000", "--expire-ms=250", "--pod-id", "a"}), ConfigAction::kRun);
  EXPECT_EQ(config_.port, 9000);
  EXPECT_EQ(config_.expire_ms, 250);
  EXPECT_EQ(config_.pod_id, "a");
}

TEST_F(ConfigTest, EnvironmentVariablesAreNamedAfterFlags) {
  env_ = {{"SWITCHBOARD_EXPIRE_MS", "1234"},
          {"SWITCHBOARD_MAX_MESSAGE_BYTES", "4096"},
          {"SWITCHBOARD_HOST", "127.0.0.1"}};
  ASSERT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_EQ(config_.expire_ms, 1234);
  EXPECT_EQ(config_.max_message_bytes, 4096);
  EXPECT_EQ(config_.host, "127.0.0.1");
}

TEST_F(ConfigTest, FlagBeatsEnvironment) {
  env_ = {{"SWITCHBOARD_PORT", "7000"}};
  ASSERT_EQ(Parse({"--port=7001"}), ConfigAction::kRun);
  EXPECT_EQ(config_.port, 7001);
}

TEST_F(ConfigTest, PodIdFallsBackToPodNameThenHostname) {
  env_ = {{"POD_NAME", "switchboard-5d8f-x2"}};
  ASSERT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_EQ(config_.pod_id, "switchboard-5d8f-x2");
  env_ = {{"POD_NAME", "k8s"}, {"SWITCHBOARD_POD_ID", "explicit"}};
  ASSERT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_EQ(config_.pod_id, "explicit");
}

TEST_F(ConfigTest, HelpIsRecognised) {
  EXPECT_EQ(Parse({"--port", "1", "--help"}), ConfigAction::kHelp);
}

TEST_F(ConfigTest, BadInputIsRefusedWithAReason) {
  EXPECT_EQ(Parse({"--nope", "1"}), ConfigAction::kError);
  EXPECT_NE(error_.find("unknown flag --nope"), std::string::npos) << error_;
  EXPECT_EQ(Parse({"--port"}), ConfigAction::kError);
  EXPECT_NE(error_.find("needs a value"), std::string::npos) << error_;
  EXPECT_EQ(Parse({"--port", "80x"}), ConfigAction::kError);
  EXPECT_NE(error_.find("expected an integer"), std::string::npos) << error_;
  EXPECT_EQ(Parse({"--port", "70000"}), ConfigAction::kError);
  EXPECT_EQ(Parse({"--expire-ms", "0"}), ConfigAction::kError);
  EXPECT_EQ(Parse({"positional"}), ConfigAction::kError);
  EXPECT_EQ(Parse({"--log-level", "loud"}), ConfigAction::kError);
  EXPECT_NE(error_.find("--log-level"), std::string::npos) << error_;
  env_ = {{"SWITCHBOARD_RATE_LIMIT", "-5"}};
  EXPECT_EQ(Parse({}), ConfigAction::kError);
  EXPECT_NE(error_.find("SWITCHBOARD_RATE_LIMIT"), std::string::npos) << error_;
}

TEST_F(ConfigTest, RedisFlagsAreCheckedAtStart) {
  ASSERT_EQ(Parse({"--redis-url", "redis://:pw@redis.default.svc:6380/2", "--redis-prefix", "sb"}),
            ConfigAction::kRun)
      << error_;
  EXPECT_EQ(config_.redis_url, "redis://:pw@redis.default.svc:6380/2");
  EXPECT_EQ(config_.redis_prefix, "sb");
  EXPECT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_EQ(config_.redis_url, "");
  EXPECT_EQ(config_.redis_prefix, "switchboard");
  EXPECT_EQ(Parse({"--redis-url", "http://x"}), ConfigAction::kError);
  EXPECT_NE(error_.find("--redis-url"), std::string::npos) << error_;
  EXPECT_EQ(Parse({"--redis-prefix", "a b"}), ConfigAction::kError);
}

// Kubernetes passes the password from a Secret in SWITCHBOARD_REDIS_PASSWORD (k8s/base).
TEST_F(ConfigTest, RedisPasswordComesFromItsVariableAndOnlyFromOnePlace) {
  env_["SWITCHBOARD_REDIS_PASSWORD"] = "s3cr:t@/x";
  ASSERT_EQ(Parse({"--redis-url", "redis://redis:6379"}), ConfigAction::kRun) << error_;
  EXPECT_EQ(config_.redis_password, "s3cr:t@/x");
  EXPECT_EQ(Parse({"--redis-url", "redis://:pw@redis:6379"}), ConfigAction::kError);
  EXPECT_NE(error_.find("one place"), std::string::npos) << error_;
  EXPECT_EQ(Parse({}), ConfigAction::kError);
  EXPECT_NE(error_.find("without --redis-url"), std::string::npos) << error_;
}

TEST_F(ConfigTest, PodIdsAreKeptToAPlainAlphabet) {
  EXPECT_EQ(Parse({"--pod-id", "switchboard-7d9f.x_1"}), ConfigAction::kRun);
  EXPECT_EQ(Parse({"--pod-id", "two words"}), ConfigAction::kError);
  EXPECT_NE(error_.find("--pod-id"), std::string::npos) << error_;
  EXPECT_EQ(Parse({"--pod-id", std::string(129, 'p')}), ConfigAction::kError);
}

TEST_F(ConfigTest, HelpListsEveryFlagWithItsVariableAndDefault) {
  const std::string help = HelpText();
  for (const char* expected : {"--host",
                               "SWITCHBOARD_HOST",
                               "--port",
                               "default 8080",
                               "--pod-id",
                               "--expire-ms",
                               "SWITCHBOARD_EXPIRE_MS",
                               "default 5000",
                               "--max-message-bytes",
                               "default 65536",
                               "--drain-seconds",
                               "--rate-limit",
                               "--rate-burst",
                               "--flood-strikes",
                               "--handshake-timeout-seconds",
                               "--ping-interval-seconds",
                               "--ping-timeout-seconds",
                               "--log-level",
                               "--max-queued-per-peer",
                               "--max-outbound-bytes"}) {
    EXPECT_NE(help.find(expected), std::string::npos) << expected;
  }
}

TEST_F(ConfigTest, PeerJsDefaultsMatchPeer) {
  ASSERT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_EQ(config_.peerjs_path, "/");
  EXPECT_EQ(config_.peerjs_key, "peerjs");
  EXPECT_FALSE(config_.peerjs_allow_discovery);
  EXPECT_EQ(config_.peerjs_alive_timeout_ms, 60000);
}

TEST_F(ConfigTest, BooleanFlagAloneOrWithAValue) {
  ASSERT_EQ(Parse({"--peerjs-allow-discovery"}), ConfigAction::kRun);
  EXPECT_TRUE(config_.peerjs_allow_discovery);
  ASSERT_EQ(Parse({"--peerjs-allow-discovery", "--port", "1"}), ConfigAction::kRun);
  EXPECT_TRUE(config_.peerjs_allow_discovery);
  EXPECT_EQ(config_.port, 1);
  ASSERT_EQ(Parse({"--peerjs-allow-discovery", "false"}), ConfigAction::kRun);
  EXPECT_FALSE(config_.peerjs_allow_discovery);
  ASSERT_EQ(Parse({"--peerjs-allow-discovery=true"}), ConfigAction::kRun);
  EXPECT_TRUE(config_.peerjs_allow_discovery);
  env_ = {{"SWITCHBOARD_PEERJS_ALLOW_DISCOVERY", "true"}};
  ASSERT_EQ(Parse({}), ConfigAction::kRun);
  EXPECT_TRUE(config_.peerjs_allow_discovery);
}

TEST_F(ConfigTest, BooleanFlagRefusesOtherValues) {
  EXPECT_EQ(Parse({"--peerjs-allow-discovery=yes"}), ConfigAction::kError);
  EXPECT_EQ(error_, "--peerjs-allow-discovery: expected true or false, got \"yes\"");
}

TEST_F(ConfigTest, PeerJsPathGetsItsTrailingSlash) {
  ASSERT_EQ(Parse({"--peerjs-path", "/myapp"}), ConfigAction::kRun);
  EXPECT_EQ(config_.peerjs_path, "/myapp/");
  ASSERT_EQ(Parse({"--peerjs-path", "/myapp/"}), ConfigAction::kRun);
  EXPECT_EQ(config_.peerjs_path, "/myapp/");
}

TEST_F(ConfigTest, RefusesUnusablePeerJsPathAndKey) {
  EXPECT_EQ(Parse({"--peerjs-path", "myapp"}), ConfigAction::kError);
  EXPECT_EQ(error_, "--peerjs-path must start with / and hold no ?, # or space");
  EXPECT_EQ(Parse({"--peerjs-path", "/a?b"}), ConfigAction::kError);
  EXPECT_EQ(Parse({"--peerjs-key", "a/b"}), ConfigAction::kError);
  EXPECT_EQ(error_, "--peerjs-key must be non-empty, without /");
  EXPECT_EQ(Parse({"--peerjs-key="}), ConfigAction::kError);
}

}  // namespace
}  // namespace switchboard::server
