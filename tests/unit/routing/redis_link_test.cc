// RedisLink on a real Redis Cluster: what it does with the order of a slot's commands when the
// cluster refuses one for a moment (TRYAGAIN) and takes the next.
#include "routing/redis_link.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "redis_cluster_fixture.h"
#include "routing/cluster_slot.h"

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;

// RPUSH KEYS[1] ARGV[1], declaring KEYS[2] too: while the slot migrates and KEYS[2] has left (or
// never was), the node answers TRYAGAIN without running it.
constexpr std::string_view kPushBesides = "return redis.call('RPUSH', KEYS[1], ARGV[1])";

class RedisLinkClusterTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    std::string error;
    ASSERT_TRUE(cluster_.Start(3, 0, &error)) << error;
    const std::optional<RedisAddress> seed = ParseRedisUrl(cluster_.SeedUrl(), &error);
    ASSERT_TRUE(seed.has_value()) << error;
    link_.emplace(&loop_,
                  RedisLink::Options{.address = *seed,
                                     .cluster = true,
                                     .channels = {"sbtest:channel"},
                                     .liveness_keys = {"sbtest:alive"},
                                     .scripts = {std::string(kPushBesides)}},
                  RedisLink::Events{});
    link_->Start();
    ASSERT_TRUE(PumpUntil([&] { return link_->up(); }, "the link comes up"));
  }

  void TearDown() override {
    if (link_) link_->Close();
    ASSERT_TRUE(PumpUntil([&] { return uv_loop_alive(&loop_) == 0; }, "Close releases the loop"));
    link_.reset();
    uv_loop_close(&loop_);
  }

  [[nodiscard]] bool PumpUntil(const std::function<bool()>& condition, std::string_view what) {
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << "timed out waiting until " << what;
        return false;
      }
      uv_run(&loop_, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(milliseconds(1));
    }
    return true;
  }

  uv_loop_t loop_{};
  RedisCluster cluster_;
  std::optional<RedisLink> link_;
};

// What a callback got, rendered as RedisClient does ("(error) ..." for an error).
std::function<void(redisReply*)> Record(std::optional<std::string>* into) {
  return [into](redisReply* reply) {
    *into = reply == nullptr ? "no reply" : RedisClient::Render(reply);
  };
}

// Two commands of one slot leave in one write: the first is refused (TRYAGAIN), the second runs.
// Retried later, the first would run after the second: it fails instead, and the list holds the
// second alone, even once the cluster would take the first.
TEST_F(RedisLinkClusterTest, ACommandToRetryThatANewerOneOvertookFails) {
  const int slot = KeySlot("{t}log");
  const int from = cluster_.MasterForSlot(slot);
  const int to = (from + 1) % 3;
  ASSERT_EQ(cluster_.Run(from, {"RPUSH", "{t}log", "before"}), "1");
  std::string error;
  ASSERT_TRUE(cluster_.BeginMigration(slot, from, to, &error)) << error;

  std::optional<std::string> first;
  std::optional<std::string> second;
  link_->RunScript(0, {"{t}log", "{t}elsewhere"}, {"first"}, Record(&first));
  ASSERT_TRUE(link_->Command({"RPUSH", "{t}log", "second"}, Record(&second)));
  ASSERT_TRUE(PumpUntil([&] { return second.has_value(); }, "the second is answered"));
  EXPECT_EQ(*second, "2");
  // From here on the slot is stable again: a retry of the first would run.
  ASSERT_TRUE(cluster_.CancelMigration(slot, from, to, &error)) << error;
  ASSERT_TRUE(PumpUntil([&] { return first.has_value(); }, "the first is answered"));
  EXPECT_TRUE(first->starts_with("(error) TRYAGAIN")) << *first;
  std::optional<std::string> later;
  ASSERT_TRUE(link_->Command({"RPUSH", "{t}log", "later"}, Record(&later)));
  ASSERT_TRUE(PumpUntil([&] { return later.has_value(); }, "a later command is answered"));
  EXPECT_EQ(*later, "3") << "the slot's gate opened; the first never ran";
  EXPECT_EQ(cluster_.Run(from, {"LRANGE", "{t}log", "0", "-1"}), "[before,second,later]");
}

// A gate that holds a command to retry (TRYAGAIN) and a newer one redirected by ASK sends them to
// two nodes. At once, the newer would run first, at the target, and the older fail as overtaken:
// the older goes alone, and the newer only once it is answered.
TEST_F(RedisLinkClusterTest, ARetryAndANewerAskRedirectGoInTheirOrder) {
  const int slot = KeySlot("{t}log");
  const int from = cluster_.MasterForSlot(slot);
  const int to = (from + 1) % 3;
  ASSERT_EQ(cluster_.Run(from, {"RPUSH", "{t}log", "before"}), "1");
  std::string error;
  ASSERT_TRUE(cluster_.BeginMigration(slot, from, to, &error)) << error;

  std::vector<std::string> answered;
  std::optional<std::string> first;
  std::optional<std::string> second;
  link_->RunScript(0, {"{t}log", "{t}elsewhere"}, {"first"}, [&](redisReply* reply) {
    Record (&first)(reply);
    answered.push_back("first");
  });
  // A key the source does not have: ASK, to the target.
  ASSERT_TRUE(link_->Command({"RPUSH", "{t}new", "second"}, [&](redisReply* reply) {
    Record (&second)(reply);
    answered.push_back("second");
  }));
  // The first is refused again and again while the slot migrates; the second waits behind it.
  const auto until = std::chrono::steady_clock::now() + milliseconds(500);
  while (std::chrono::steady_clock::now() < until && answered.empty()) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(answered.empty()) << "answered while the slot migrates: " << answered.front();
  ASSERT_TRUE(cluster_.CancelMigration(slot, from, to, &error)) << error;
  ASSERT_TRUE(PumpUntil([&] { return answered.size() == 2; }, "both are answered"));
  EXPECT_EQ(answered, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(*first, "2");
  EXPECT_EQ(*second, "1");
  EXPECT_EQ(cluster_.Run(from, {"LRANGE", "{t}log", "0", "-1"}), "[before,first]");
}

}  // namespace
}  // namespace switchboard::routing
