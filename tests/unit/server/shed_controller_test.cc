#include "server/shed_controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace switchboard::server {
namespace {

using std::chrono::seconds;
using Clock = ShedController::Clock;
using PodLoad = ShedController::PodLoad;
using Policy = ShedController::Policy;
using Snapshot = ShedController::Snapshot;
using State = ShedController::State;

const Clock::time_point kStart{std::chrono::hours(1)};
constexpr uint32_t kSeed = 20240601;

// A number in [0, 1) from `rng`, the same on every standard library (the distributions are not).
double Random01(std::mt19937& rng) { return rng() / 4294967296.0; }

PodLoad Self(size_t connections, bool draining = false) {
  return PodLoad{"self", connections, draining};
}

// The registry read at `at`: pods "pod-0", "pod-1", ... with these counts.
Snapshot Read(Clock::time_point at, const std::vector<size_t>& counts) {
  Snapshot snapshot{at, {}};
  for (size_t i = 0; i < counts.size(); ++i) {
    snapshot.pods.push_back(PodLoad{"pod-" + std::to_string(i), counts[i], false});
  }
  return snapshot;
}

// Calls `controller` once a second for `ticks` seconds from `from`, with this pod at `own` and
// the others at `others` throughout; returns the total shed.
size_t Steady(ShedController& controller, Clock::time_point from, int ticks, size_t own,
              const std::vector<size_t>& others, std::mt19937& rng) {
  size_t shed = 0;
  for (int t = 0; t < ticks; ++t) {
    const Clock::time_point now = from + seconds(t);
    shed += controller.Decide(now, Self(own), Read(now, others), Random01(rng));
  }
  return shed;
}

bool Balanced(const std::vector<size_t>& counts, double threshold) {
  double total = 0;
  for (size_t count : counts) total += static_cast<double>(count);
  const double average = total / static_cast<double>(counts.size());
  return std::all_of(counts.begin(), counts.end(), [&](size_t count) {
    return std::abs(static_cast<double>(count) - average) <= threshold * average;
  });
}

// Where the load balancer sends a client that reconnects.
enum class Reconnect { kUniform, kLeastLoaded };

// Pods that each run their own controller once a simulated second. All read the registry at the
// start of the second (so the others' counts are up to a second old) and decide in turn on their
// own live count; what a pod sheds reconnects at once, to a pod chosen by `reconnect` (which may
// be the pod that shed it).
class Cluster {
 public:
  Cluster(std::vector<size_t> counts, Policy policy, Reconnect reconnect)
      : counts_(std::move(counts)), reconnect_(reconnect), rng_(kSeed) {
    for (size_t i = 0; i < counts_.size(); ++i) controllers_.emplace_back(policy);
  }

  // One second; returns the connections shed in it.
  size_t Tick() {
    const Clock::time_point now = kStart + seconds(ticks_++);
    const Snapshot snapshot = Read(now, counts_);
    size_t shed_in_tick = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      const PodLoad self{"pod-" + std::to_string(i), counts_[i], false};
      const size_t shed = controllers_[i].Decide(now, self, snapshot, Random01(rng_));
      EXPECT_LE(shed, counts_[i]);
      counts_[i] -= shed;
      for (size_t k = 0; k < shed; ++k) ++counts_[Destination()];
      shed_in_tick += shed;
    }
    return shed_in_tick;
  }

  // Ticks until the pods are balanced; returns the seconds that took, or -1 past `limit`.
  int Converge(int limit, double threshold) {
    for (int t = 1; t <= limit; ++t) {
      Tick();
      if (Balanced(counts_, threshold)) return t;
    }
    return -1;
  }

  const std::vector<size_t>& counts() const { return counts_; }
  const ShedController& controller(size_t i) const { return controllers_[i]; }

 private:
  size_t Destination() {
    if (reconnect_ == Reconnect::kUniform) return rng_() % counts_.size();
    size_t best = 0;
    for (size_t i = 1; i < counts_.size(); ++i) {
      if (counts_[i] < counts_[best]) best = i;
    }
    return best;
  }

  std::vector<size_t> counts_;
  std::vector<ShedController> controllers_;
  Reconnect reconnect_;
  std::mt19937 rng_;
  int ticks_ = 0;
};

// Seconds in which `old_pods` pods at `old_count` reach the top of the band when every pod
// above the average sheds at the full rate, `others` pods start empty, and a reconnecting
// client lands on an old pod with probability `back` (0 for least-loaded, old/all for uniform).
double IdealSeconds(const Policy& policy, size_t old_pods, size_t others, size_t old_count,
                    double back) {
  const double average = static_cast<double>(old_pods * old_count) / (old_pods + others);
  const double excess = old_count - (1 + policy.threshold) * average;
  return excess / (policy.max_rate * average * (1 - back));
}

TEST(ShedControllerTest, BalancedPodsShedNothing) {
  ShedController controller{Policy{}};
  std::mt19937 rng(kSeed);
  EXPECT_EQ(Steady(controller, kStart, 600, 1150, {1000, 900, 950, 1100}, rng), 0u);
  EXPECT_EQ(controller.state(), State::kBalanced);
  EXPECT_DOUBLE_EQ(controller.average(), 1020.0);

  ShedController idle{Policy{}};
  EXPECT_EQ(Steady(idle, kStart, 10, 0, {0, 0, 0}, rng), 0u) << "no connections anywhere";
  EXPECT_EQ(idle.state(), State::kBalanced);
}

TEST(ShedControllerTest, ShedsAtTheRateUntilWithinTheThreshold) {
  const Policy policy;
  for (size_t n : {200, 1000}) {
    Cluster cluster({n, n, 0, 0}, policy, Reconnect::kLeastLoaded);
    const double average = n / 2.0;
    size_t shed = 0;
    for (int t = 0; t < 100; ++t) shed += cluster.Tick();
    // Two pods above the average, 99 seconds earned (the first call earns nothing).
    const double expected = 2 * policy.max_rate * average * 99;
    EXPECT_NEAR(static_cast<double>(shed), expected, 0.03 * expected) << n;

    ASSERT_GT(cluster.Converge(3600, policy.threshold), 0) << n;
    for (int t = 0; t < 600; ++t) EXPECT_EQ(cluster.Tick(), 0u) << n << " at " << t;
    EXPECT_EQ(cluster.controller(0).state(), State::kBalanced);
    for (size_t count : cluster.counts()) {
      EXPECT_LE(count, (1 + policy.threshold) * average) << n;
      EXPECT_GE(count, (1 - policy.threshold) * average) << n;
    }
  }
}

TEST(ShedControllerTest, ALowRateSavesUpFractions) {
  ShedController controller{Policy{}};
  std::mt19937 rng(kSeed);
  // Average 100: 0.5 connections a second.
  const size_t shed = Steady(controller, kStart, 1001, 200, {200, 0, 0}, rng);
  EXPECT_NEAR(static_cast<double>(shed), 500, 2);
}

TEST(ShedControllerTest, NeverShedsBelowTheFloor) {
  Policy policy;
  Cluster cluster({60, 60, 0, 0}, policy, Reconnect::kLeastLoaded);
  for (int t = 0; t < 3600; ++t) cluster.Tick();
  EXPECT_EQ(cluster.counts(), (std::vector<size_t>{50, 50, 10, 10}));
  EXPECT_EQ(cluster.controller(0).state(), State::kBelowFloor);
  EXPECT_EQ(cluster.controller(1).state(), State::kBelowFloor);

  ShedController controller{policy};
  std::mt19937 rng(kSeed);
  EXPECT_EQ(Steady(controller, kStart, 60, 50, {0, 0, 0}, rng), 0u);
  EXPECT_EQ(controller.state(), State::kBelowFloor);
}

TEST(ShedControllerTest, NeverShedsBelowTheAverage) {
  // 101 pods, one of them empty: out of balance, but this pod is less than one connection above
  // the average (10000 / 101 = 99.01).
  std::vector<size_t> others(99, 100);
  others.push_back(0);
  ShedController controller{Policy{}};
  std::mt19937 rng(kSeed);
  EXPECT_EQ(Steady(controller, kStart, 60, 100, others, rng), 0u);
  EXPECT_EQ(controller.state(), State::kAtOrBelowAverage);

  // One more connection (average 99.02): one may go, and no more.
  ShedController above{Policy{}};
  size_t own = 101;
  for (int t = 0; t < 60; ++t) {
    const Clock::time_point now = kStart + seconds(t);
    own -= above.Decide(now, Self(own), Read(now, others), Random01(rng));
  }
  EXPECT_EQ(own, 100u);
  EXPECT_EQ(above.state(), State::kAtOrBelowAverage);
}

TEST(ShedControllerTest, DrainingAnywhereStopsIt) {
  ShedController controller{Policy{}};
  std::mt19937 rng(kSeed);
  Snapshot snapshot = Read(kStart, {1000, 0, 0});
  snapshot.pods[1].draining = true;
  for (int t = 0; t < 60; ++t) {
    const Clock::time_point now = kStart + seconds(t);
    snapshot.read_at = now;
    EXPECT_EQ(controller.Decide(now, Self(1000), snapshot, Random01(rng)), 0u);
    EXPECT_EQ(controller.Decide(now, Self(1000, true), Read(now, {1000, 0, 0}), Random01(rng)), 0u);
  }
  EXPECT_EQ(controller.state(), State::kDraining);

  // The drain is over: nothing was saved up meanwhile, so the first second sheds one second's
  // share (2.5 at most scaled by the jitter), not a minute's.
  const Clock::time_point after = kStart + seconds(60);
  EXPECT_LE(controller.Decide(after, Self(1000), Read(after, {1000, 0, 0}), 0.999), 3u);
  EXPECT_EQ(controller.state(), State::kShedding);
}

TEST(ShedControllerTest, UnknownOrOldCountsStopIt) {
  const Policy policy;
  ShedController controller{policy};
  std::mt19937 rng(kSeed);
  Snapshot never = Read(Clock::time_point(), {1000, 0, 0});
  for (int t = 0; t < 10; ++t) {
    EXPECT_EQ(controller.Decide(kStart + seconds(t), Self(1000), never, Random01(rng)), 0u);
  }
  EXPECT_EQ(controller.state(), State::kNoData);

  // Redis went away at kStart: the last snapshot ages past max_age.
  ShedController stale{policy};
  const Snapshot last = Read(kStart, {1000, 0, 0});
  size_t shed = 0;
  for (int t = 0; t < 60; ++t) {
    shed += stale.Decide(kStart + seconds(t), Self(1000), last, Random01(rng));
    if (kStart + seconds(t) - last.read_at > policy.max_age) {
      EXPECT_EQ(stale.state(), State::kNoData) << t;
    } else {
      EXPECT_NE(stale.state(), State::kNoData) << t;
    }
  }
  EXPECT_LE(shed, 3 * 3u) << "only while the counts were fresh";
}

TEST(ShedControllerTest, AlonePodShedsNothing) {
  ShedController controller{Policy{}};
  std::mt19937 rng(kSeed);
  EXPECT_EQ(Steady(controller, kStart, 10, 1000, {}, rng), 0u);
  EXPECT_EQ(controller.state(), State::kAlone);
  EXPECT_DOUBLE_EQ(controller.average(), 1000.0);

  // The registry lists this pod itself, with an older count: it is still alone.
  ShedController listed{Policy{}};
  Snapshot snapshot{kStart, {PodLoad{"self", 10, false}}};
  EXPECT_EQ(listed.Decide(kStart, Self(1000), snapshot, 0.5), 0u);
  EXPECT_EQ(listed.state(), State::kAlone);
  EXPECT_DOUBLE_EQ(listed.average(), 1000.0);
}

TEST(ShedControllerTest, ItsOwnEntryIsIgnoredForItsOwnCount) {
  ShedController controller{Policy{}};
  Snapshot snapshot = Read(kStart, {1000, 0, 0});
  snapshot.pods.push_back(PodLoad{"self", 0, false});
  controller.Decide(kStart, Self(1000), snapshot, 0.5);
  EXPECT_DOUBLE_EQ(controller.average(), 500.0) << "four pods, this one at 1000";
  EXPECT_EQ(controller.state(), State::kPacing) << "the first call earns nothing";
}

TEST(ShedControllerTest, ALongGapDoesNotBurst) {
  const Policy policy;
  ShedController controller{policy};
  std::mt19937 rng(kSeed);
  Steady(controller, kStart, 10, 1000, {1000, 0, 0}, rng);
  const Clock::time_point later = kStart + std::chrono::hours(1);
  const size_t shed = controller.Decide(later, Self(1000), Read(later, {1000, 0, 0}), 0.999);
  // At most max_elapsed's share at the top of the jitter, plus the one connection carried.
  const double cap = policy.max_rate * 500 * 2 * (1 + policy.jitter / 2) + 1;
  EXPECT_GT(shed, 0u);
  EXPECT_LE(static_cast<double>(shed), cap);

  // The first call, and a clock that goes back, earn nothing.
  ShedController fresh{policy};
  EXPECT_EQ(fresh.Decide(later, Self(1000), Read(later, {1000, 0, 0}), 0.999), 0u);
  EXPECT_EQ(fresh.Decide(kStart, Self(1000), Read(kStart, {1000, 0, 0}), 0.999), 0u);
}

TEST(ShedControllerTest, JitterKeepsTheLongRunRate) {
  for (double jitter : {0.0, 0.25, 1.0}) {
    Policy policy;
    policy.jitter = jitter;
    ShedController controller{policy};
    std::mt19937 rng(kSeed);
    // Average 500: 2.5 a second, over 99999 seconds earned. With jitter 1 a second's share has a
    // standard deviation of 0.72 connections, so the total's is 0.1%.
    const size_t shed = Steady(controller, kStart, 100000, 1000, {1000, 0, 0}, rng);
    EXPECT_NEAR(static_cast<double>(shed), 2.5 * 99999, 0.005 * 2.5 * 99999) << jitter;
  }
}

TEST(ShedControllerTest, JitterKeepsPodsOutOfStep) {
  for (double jitter : {0.0, 0.25}) {
    Policy policy;
    policy.jitter = jitter;
    ShedController a{policy};
    ShedController b{policy};
    std::mt19937 rng_a(kSeed);
    std::mt19937 rng_b(kSeed + 1);
    int apart = 0;
    for (int t = 0; t < 600; ++t) {
      // Average 100: one connection every other second.
      const Clock::time_point now = kStart + seconds(t);
      const Snapshot snapshot = Read(now, {200, 0, 0});
      const bool a_sheds = a.Decide(now, Self(200), snapshot, Random01(rng_a)) > 0;
      const bool b_sheds = b.Decide(now, Self(200), snapshot, Random01(rng_b)) > 0;
      if (a_sheds != b_sheds) ++apart;
    }
    if (jitter == 0) {
      EXPECT_EQ(apart, 0) << "without jitter the two shed on the same seconds";
    } else {
      EXPECT_GT(apart, 60) << "with jitter they drift apart";
    }
  }
}

TEST(ShedControllerTest, FourPodsConvergeInTheTimeTheRateImplies) {
  const Policy policy;
  for (size_t n : {200, 1000, 5000}) {
    for (Reconnect reconnect : {Reconnect::kLeastLoaded, Reconnect::kUniform}) {
      Cluster cluster({n, n, 0, 0}, policy, reconnect);
      const double back = reconnect == Reconnect::kUniform ? 0.5 : 0.0;
      const double ideal = IdealSeconds(policy, 2, 2, n, back);
      const int seconds = cluster.Converge(3600, policy.threshold);
      SCOPED_TRACE(testing::Message()
                   << "2x" << n << " + 2x0, " << (back > 0 ? "uniform" : "least-loaded")
                   << ", ideal " << ideal << " s, converged in " << seconds << " s");
      ASSERT_GT(seconds, 0);
      EXPECT_GE(seconds, 0.95 * ideal) << "faster than the rate allows";
      EXPECT_LE(seconds, 1.25 * ideal);
      if (reconnect == Reconnect::kLeastLoaded) {
        EXPECT_LT(seconds, 180);
      }
      // Shown by --gtest_output=xml:FILE, not on the console.
      RecordProperty("converged_2x" + std::to_string(n) + "_" +
                         (back > 0 ? "uniform" : "least_loaded") + "_seconds",
                     seconds);
      for (int t = 0; t < 600; ++t) EXPECT_EQ(cluster.Tick(), 0u) << "it stays converged";
    }
  }
}

TEST(ShedControllerTest, ANewPodAmongThreeOldOnesGetsItsShare) {
  // Shedding only from pods above the threshold would stop the old pods at 900 and leave the
  // new one at 300 of its 750.
  const Policy policy;
  for (Reconnect reconnect : {Reconnect::kLeastLoaded, Reconnect::kUniform}) {
    Cluster cluster({1000, 1000, 1000, 0}, policy, reconnect);
    const int seconds = cluster.Converge(3600, policy.threshold);
    ASSERT_GT(seconds, 0);
    EXPECT_GE(cluster.counts()[3], 600u);
    RecordProperty(std::string("converged_3x1000_") +
                       (reconnect == Reconnect::kUniform ? "uniform" : "least_loaded") + "_seconds",
                   seconds);
    // The new pod gets 0.5% of 750 from each of three pods a second, all of it or a quarter.
    const double ideal =
        600 / (3 * policy.max_rate * 750 * (reconnect == Reconnect::kUniform ? 0.25 : 1.0));
    EXPECT_GE(seconds, 0.95 * ideal);
    EXPECT_LE(seconds, 1.25 * ideal);
  }
}

TEST(ShedControllerTest, StatesHaveNames) {
  EXPECT_EQ(ShedController::StateName(State::kShedding), "shedding");
  EXPECT_EQ(ShedController::StateName(State::kAtOrBelowAverage), "at_or_below_average");
  EXPECT_EQ(ShedController::StateName(State::kNoData), "no_data");
}

}  // namespace
}  // namespace switchboard::server
