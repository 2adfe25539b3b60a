// The fixture the routing backend tests share: a libuv loop, the backend under test as two
// "pods", and helpers that pump the loop until something happens.
//
// "embedded": both pods are the same EmbeddedRegistry, so a test written for two pods checks the
// single-pod semantics. "redis": a real redis-server (redis_server_fixture.h) and two
// RedisRegistry instances, "pod-a" and "pod-b", on the same loop and the same key prefix: the
// cross-pod paths run in-process, through Redis. "cluster": the same on a 3-master Redis Cluster
// (redis_cluster_fixture.h), the pods given its first node as their seed.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "recording_connection.h"
#include "redis_cluster_fixture.h"
#include "redis_server_fixture.h"
#include "routing/embedded_registry.h"
#include "routing/redis_registry.h"
#include "routing/registry.h"

namespace switchboard::routing {

using std::chrono::milliseconds;

// What a test may change about its pods.
struct PodOptions {
  Clock::duration expire = milliseconds(5000);
  size_t max_queued_per_peer = 256;
  QueueBudget::Limits queue_budget = {};        // the server's defaults
  milliseconds heartbeat = milliseconds(1000);  // Redis only
  milliseconds alive_ttl = milliseconds(3000);  // Redis only
  SwarmTable::Limits swarm_limits = {};
};

// For the tests that queue more than a sender may in production (--max-queued-per-sender).
constexpr QueueBudget::Limits kRoomyQueueBudget{.frames_per_sender = 1 << 20,
                                                .bytes_per_sender = 1 << 30,
                                                .frames_total = 1 << 20,
                                                .bytes_total = 1 << 30};

// A short expiry for the tests about expiry: long enough for a registration or a delivery to
// finish well inside it (a few Redis round trips), short enough to keep the tests quick.
constexpr Clock::duration kShortExpire = milliseconds(300);

constexpr milliseconds kPumpTimeout = milliseconds(5000);

class RegistryFixture : public testing::Test {
 protected:
  // Which backend this test runs on.
  virtual bool UsesRedis() const = 0;
  // With UsesRedis(): a Redis Cluster rather than one server.
  virtual bool UsesCluster() const { return false; }
  // With UsesCluster(): replicas per master (each of the 3 masters).
  virtual int ClusterReplicas() const { return 0; }

  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    loop_initialized_ = true;
    static std::atomic<int> counter{0};
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = "sbtest:" + std::to_string(getpid()) + ":" + std::to_string(counter++) + ":" +
              std::string(info->name());
    if (UsesCluster()) {
      std::string error;
      ASSERT_TRUE(cluster_.Start(3, ClusterReplicas(), &error)) << error;
    } else if (UsesRedis()) {
      std::string error;
      ASSERT_TRUE(redis_.Start(0, &error)) << error;
    }
  }

  void TearDown() override {
    // Close releases everything the backends hold on the loop: the loop runs out.
    for (auto& pod : owned_) pod->Close();
    const bool released = PumpUntil([&] { return uv_loop_alive(&loop_) == 0; }, kPumpTimeout,
                                    "Close() on every pod releases the loop", /*tick=*/false);
    if (!released) {
      uv_walk(
          &loop_,
          [](uv_handle_t* handle, void*) {
            ADD_FAILURE() << "still open on the loop: " << uv_handle_type_name(handle->type)
                          << (uv_is_closing(handle) ? " (closing)" : "")
                          << (uv_is_active(handle) ? " (active)" : "");
          },
          nullptr);
      // Freeing a registry whose handles the loop still holds would be a use after free:
      // leak them instead (the test has failed already).
      for (auto& pod : owned_) pod.release();  // NOLINT(bugprone-unused-return-value)
      return;
    }
    owned_.clear();
    pods_.clear();
    if (loop_initialized_) {
      EXPECT_EQ(uv_loop_close(&loop_), 0) << "uv_loop_close";
    }
    redis_.Kill();
    cluster_.Stop();
  }

  // ---------------------------------------------------------------------------------------------
  // Pods.

  // Makes pod-a and pod-b for this test's backend, and waits until they are up.
  void StartPods(PodOptions options = {}) {
    options_ = options;
    if (UsesRedis()) {
      a_ = AddRedisPod("pod-a", options);
      b_ = AddRedisPod("pod-b", options);
    } else {
      auto embedded = std::make_unique<EmbeddedRegistry>(
          EmbeddedRegistry::Options{.expire = options.expire,
                                    .max_queued_per_peer = options.max_queued_per_peer,
                                    .queue_budget = options.queue_budget,
                                    .swarm_limits = options.swarm_limits});
      a_ = b_ = embedded.get();
      pods_.push_back(embedded.get());
      owned_.push_back(std::move(embedded));
    }
  }

  // Another Redis pod on this test's loop, prefix and server, started and up.
  RedisRegistry* AddRedisPod(const std::string& pod_id, PodOptions options) {
    RedisRegistry::Options redis_options;
    redis_options.address.host = "127.0.0.1";
    redis_options.address.port = UsesCluster() ? cluster_.Port(0) : redis_.port();
    redis_options.cluster = UsesCluster();
    redis_options.prefix = prefix_;
    redis_options.pod_id = pod_id;
    redis_options.expire = options.expire;
    redis_options.max_queued_per_peer = options.max_queued_per_peer;
    redis_options.queue_budget = options.queue_budget;
    redis_options.heartbeat = options.heartbeat;
    redis_options.alive_ttl = options.alive_ttl;
    redis_options.swarm_limits = options.swarm_limits;
    redis_options.log = [this, pod_id](bool warning, std::string_view message,
                                       std::string_view detail) {
      backend_log_.push_back(pod_id + (warning ? " warning: " : " info: ") + std::string(message) +
                             " (" + std::string(detail) + ")");
    };
    auto pod = std::make_unique<RedisRegistry>(&loop_, std::move(redis_options));
    RedisRegistry* raw = pod.get();
    pods_.push_back(raw);
    owned_.push_back(std::move(pod));
    raw->Start();
    EXPECT_TRUE(PumpUntil([&] { return raw->up(); }, kPumpTimeout, pod_id + " comes up"));
    return raw;
  }

  Registry& a() { return *a_; }
  Registry& b() { return *b_; }
  // True when pod-a and pod-b are different registries (the Redis backend).
  bool TwoPods() const { return a_ != b_; }

  // Every registry of this test, each once.
  std::vector<Registry*> Distinct() const {
    std::vector<Registry*> distinct;
    for (Registry* pod : pods_) {
      if (std::find(distinct.begin(), distinct.end(), pod) == distinct.end()) {
        distinct.push_back(pod);
      }
    }
    return distinct;
  }

  // Closes `pod` before the end of the test; it is no longer ticked. It stays allocated until
  // TearDown, when the loop has released its handles.
  void ClosePod(Registry* pod) {
    pod->Close();
    pods_.erase(std::remove(pods_.begin(), pods_.end(), pod), pods_.end());
  }

  // ---------------------------------------------------------------------------------------------
  // The loop.

  // Runs the loop (and, with `tick`, every pod's Tick with the current time) until `condition`
  // holds. At the timeout, fails the test saying what was awaited and what happened so far, and
  // returns false.
  [[nodiscard]] bool PumpUntil(const std::function<bool()>& condition, milliseconds timeout,
                               std::string_view what, bool tick = true) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
      if (Clock::now() >= deadline) {
        ADD_FAILURE() << "timed out after " << timeout.count() << " ms waiting until " << what
                      << "\n"
                      << Describe();
        return false;
      }
      PumpOnce(tick);
    }
    return true;
  }

  [[nodiscard]] bool PumpUntil(const std::function<bool()>& condition, std::string_view what) {
    return PumpUntil(condition, kPumpTimeout, what);
  }

  // Runs the loop (and the ticks) until `condition` holds or `duration` has passed; returns
  // whether it holds. For waiting on something that may rightly never happen.
  bool PumpUntilOrFor(const std::function<bool()>& condition, Clock::duration duration) {
    const auto deadline = Clock::now() + duration;
    while (!condition()) {
      if (Clock::now() >= deadline) return false;
      PumpOnce();
    }
    return true;
  }

  // Runs the loop (and the ticks) for `duration`: for checking that nothing more happens.
  void PumpFor(Clock::duration duration, bool tick = true) {
    const auto deadline = Clock::now() + duration;
    while (Clock::now() < deadline) PumpOnce(tick);
  }

  void PumpOnce(bool tick = true) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    if (tick) {
      for (Registry* pod : Distinct()) pod->Tick(Clock::now());
    }
    std::this_thread::sleep_for(milliseconds(1));
  }

  // The test's log and the backends' own log lines, for failure messages.
  std::string Describe() const {
    std::string text = "log so far:";
    for (const std::string& line : log_) text += "\n  " + line;
    if (!backend_log_.empty()) {
      text += "\nbackend log:";
      for (const std::string& line : backend_log_) text += "\n  " + line;
    }
    return text;
  }

  // ---------------------------------------------------------------------------------------------
  // Routing, the way the server does it.

  // Starts registering `peer` on `pod`; the result is logged as "done <peer> <result>" and
  // stored in the returned slot. Does not wait.
  std::shared_ptr<std::optional<RegisterResult>> StartRegister(Registry& pod, std::string_view peer,
                                                               RecordingConnection& connection,
                                                               std::string_view token = {}) {
    auto result = std::make_shared<std::optional<RegisterResult>>();
    pod.Register(peer, token, &connection,
                 [this, result, peer = std::string(peer)](RegisterResult r) {
                   EXPECT_FALSE(result->has_value()) << "done called twice for " << peer;
                   *result = r;
                   log_.push_back("done " + peer + " " + ResultName(r));
                 });
    return result;
  }

  // Registers `peer` on `pod` and waits for the callback.
  std::optional<RegisterResult> Register(Registry& pod, std::string_view peer,
                                         RecordingConnection& connection,
                                         std::string_view token = {}) {
    auto result = StartRegister(pod, peer, connection, token);
    if (!PumpUntil([&] { return result->has_value(); },
                   "Register(" + std::string(peer) + ") calls done")) {
      return std::nullopt;
    }
    return *result;
  }

  static RoutedFrame MakeFrame(std::string_view body) {
    protocol::Frame frame(body.size());
    frame.Append(body);
    return RoutedFrame{std::move(frame), Clock::now()};
  }

  void Route(Registry& pod, std::string_view from, std::string_view to, std::string_view body,
             std::string_view ref = {}) {
    pod.Route(from, to, MakeFrame(body), ref);
  }

  // The lines of the log from the first one equal to `first` on ("" if none is).
  Log LogFrom(std::string_view first) const {
    auto it = std::find(log_.begin(), log_.end(), first);
    return Log(it, log_.end());
  }

  // ---------------------------------------------------------------------------------------------
  // Stats.

  // A stats field summed over the distinct pods.
  uint64_t Total(uint64_t RoutingStats::*field) const {
    uint64_t total = 0;
    for (Registry* pod : Distinct()) total += pod->stats().*field;
    return total;
  }

  uv_loop_t loop_{};
  bool loop_initialized_ = false;
  RedisServer redis_;
  RedisCluster cluster_;
  std::string prefix_;
  PodOptions options_;
  Log log_;
  std::vector<std::string> backend_log_;
  std::vector<std::unique_ptr<Registry>> owned_;
  std::vector<Registry*> pods_;
  Registry* a_ = nullptr;
  Registry* b_ = nullptr;
};

}  // namespace switchboard::routing
