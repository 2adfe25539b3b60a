#include "bench/load/bench_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::bench {
namespace {

struct Parsed {
  bool ok = false;
  bool help = false;
  BenchConfig config;
  std::string error;
};

Parsed Parse(std::vector<std::string> args) {
  Parsed parsed;
  parsed.ok = ParseBenchArgs(args, &parsed.config, &parsed.help, &parsed.error);
  return parsed;
}

TEST(BenchConfigTest, DefaultsToARelayAgainstOneLocalServer) {
  const Parsed p = Parse({});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.scenario, Scenario::kRelay);
  EXPECT_EQ(p.config.dialect, Dialect::kNative);
  ASSERT_EQ(p.config.servers.size(), 1u);
  EXPECT_EQ(p.config.servers[0].host, "127.0.0.1");
  EXPECT_EQ(p.config.servers[0].port, 8080);
  EXPECT_EQ(p.config.rate, 0);
}

TEST(BenchConfigTest, ReadsEveryFlag) {
  const Parsed p = Parse({"--scenario",
                          "cross-pod",
                          "--workload",
                          "latency",
                          "--dialect",
                          "peerjs",
                          "--server",
                          "127.0.0.1:1",
                          "--server",
                          "10.0.0.2:65535",
                          "--pairs",
                          "7",
                          "--rate",
                          "1500.5",
                          "--message-bytes",
                          "2048",
                          "--duration",
                          "2.5",
                          "--warmup",
                          "0",
                          "--drain",
                          "1",
                          "--threads",
                          "2",
                          "--server-pid",
                          "10",
                          "--server-pid",
                          "11",
                          "--redis-pid",
                          "12",
                          "--redis-pid",
                          "13",
                          "--json",
                          "/tmp/x.json",
                          "--id-prefix",
                          "run1",
                          "--no-progress",
                          "--peerjs-path",
                          "/p/",
                          "--peerjs-key",
                          "k",
                          "--sources",
                          "3"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.scenario, Scenario::kCrossPod);
  EXPECT_EQ(p.config.workload, Scenario::kLatency);
  EXPECT_EQ(p.config.dialect, Dialect::kPeerJs);
  ASSERT_EQ(p.config.servers.size(), 2u);
  EXPECT_EQ(p.config.servers[1].host, "10.0.0.2");
  EXPECT_EQ(p.config.servers[1].port, 65535);
  EXPECT_EQ(p.config.pairs, 7);
  EXPECT_DOUBLE_EQ(p.config.rate, 1500.5);
  EXPECT_EQ(p.config.message_bytes, 2048);
  EXPECT_DOUBLE_EQ(p.config.duration_seconds, 2.5);
  EXPECT_EQ(p.config.threads, 2);
  EXPECT_EQ(p.config.server_pids, (std::vector<pid_t>{10, 11}));
  EXPECT_EQ(p.config.redis_pids, (std::vector<pid_t>{12, 13}));
  EXPECT_EQ(p.config.json_path, "/tmp/x.json");
  EXPECT_EQ(p.config.id_prefix, "run1");
  EXPECT_FALSE(p.config.progress);
  EXPECT_EQ(p.config.peerjs.path, "/p/");
  EXPECT_EQ(p.config.sources, 3);
}

TEST(BenchConfigTest, HelpStopsParsing) {
  const Parsed p = Parse({"--help", "--bogus"});
  EXPECT_TRUE(p.ok);
  EXPECT_TRUE(p.help);
  EXPECT_NE(BenchUsage().find("--scenario"), std::string::npos);
}

TEST(BenchConfigTest, RefusesBadInputWithAClearMessage) {
  const std::vector<std::vector<std::string>> cases = {
      {"--bogus", "1"},          {"--pairs"},
      {"--pairs", "0"},          {"--pairs", "12x"},
      {"--scenario", "flood"},   {"--workload", "connections"},
      {"--dialect", "socketio"}, {"--server", "localhost"},
      {"--server", "h:0"},       {"--server", "h:70000"},
      {"--duration", "nan"},     {"--duration", "0"},
      {"--rate", "-1"},          {"--id-prefix", "Bad!"},
      {"--peerjs-path", "nope"},
  };
  for (const auto& args : cases) {
    const Parsed p = Parse(args);
    EXPECT_FALSE(p.ok) << args[0];
    EXPECT_FALSE(p.error.empty()) << args[0];
  }
}

TEST(BenchConfigTest, RefusesCombinationsThatCannotRun) {
  Parsed p = Parse({"--scenario", "cross-pod"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("two --server"), std::string::npos);
  p = Parse({"--scenario", "latency"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("--rate"), std::string::npos);
  p = Parse({"--scenario", "latency", "--rate", "10", "--message-bytes", "20"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("--message-bytes"), std::string::npos);
  p = Parse({"--scenario", "cross-pod", "--dialect", "raw", "--server", "a:1", "--server", "b:2"});
  EXPECT_FALSE(p.ok);
}

}  // namespace
}  // namespace switchboard::bench
