// When a pod closes some of its connections so that the load spreads over pods added later.
//
// WebSockets are long-lived: after a scale-up the old pods keep their clients and the new ones
// get only what arrives afterwards, for hours. So each pod compares its own count with the
// others' (every pod publishes its count in the registry, and reads everyone's about once a
// second) and, while the pods are out of balance, a pod above the average closes a few
// connections (1012 "rebalance"); their clients reconnect through the load balancer and land,
// on average, on less loaded pods. Piko, a reverse proxy that rebalances, showed the defaults:
// balanced within 20% of the average, at most 0.5% of the average shed per second per pod, and
// never a pod below 50 connections.
//
// Out of balance means that some pod, this one or another, is more than the threshold above or
// below the average; a pod that is above the average then sheds, at most down to the average.
// Shedding only while above the upper bound (as Piko does) would leave a new pod short: from
// 3x1000 + 1x0 the old pods stop at 900 and the new one gets 300 of its 750. Shedding stops as
// soon as every pod is within the band, so no more connections are moved than that takes.
//
// The rate is a budget of connections that grows with the time between calls (times the rate
// and the average) and keeps its fraction, so that 0.5% of 100 still sheds one connection every
// two seconds. The time counted is capped, and the budget carries at most one connection, so a
// stalled loop or a paused pod does not come back with a burst. Each call's share is scaled by a
// random factor of mean 1, so pods that started together do not shed on the same ticks while the
// long-run rate stays the policy's. Nothing is shed while any pod drains (its clients are
// moving; the counts mean nothing yet), while the counts are old (the registry is unreachable)
// or when this pod is alone; the budget is then dropped, not saved up.
//
// Pure: time, counts and the random number are passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "routing/pod_load.h"

namespace switchboard::server {

class ShedController {
 public:
  using Clock = std::chrono::steady_clock;

  struct Policy {
    // Balanced is within average * (1 +- threshold).
    double threshold = 0.20;
    // At most this fraction of the average is shed per second (by each pod).
    double max_rate = 0.005;
    // A pod is never shed below this many connections.
    size_t min_connections = 50;
    // Each call's share of the rate is scaled by a factor in [1 - jitter/2, 1 + jitter/2), of
    // mean 1. In [0, 1].
    double jitter = 0.25;
    // At most this much time between two calls counts towards the budget.
    Clock::duration max_elapsed = std::chrono::seconds(2);
    // Counts read longer ago than this are too old to act on.
    Clock::duration max_age = std::chrono::seconds(3);
  };

  // One pod's entry in the registry.
  using PodLoad = routing::PodLoad;

  // What the registry said at `read_at`: the pods that are alive (their key has not expired)
  // and either ready or draining. A pod that is starting and not yet ready must be left out:
  // the load balancer sends it nothing. A draining pod must be kept in, whether it is ready or
  // not. This pod may be listed or not: its entry is ignored either way. A default Snapshot,
  // read at the clock's epoch, is one that was never read.
  struct Snapshot {
    Clock::time_point read_at;
    std::vector<PodLoad> pods;
  };

  // What the last Decide saw, for logs and metrics.
  enum class State {
    kShedding,          // shed one connection or more
    kPacing,            // would shed, but the budget holds less than one connection yet
    kBalanced,          // every pod is within the threshold of the average
    kAtOrBelowAverage,  // out of balance, but this pod is less than one connection above the
                        // average: others shed
    kBelowFloor,        // out of balance, above the average, but at min_connections or fewer
    kAlone,             // no other pod in the snapshot
    kDraining,          // this pod or another is draining
    kNoData,            // the snapshot is older than max_age, or was never read
  };

  // Out-of-range fields of `policy` are clamped: threshold, max_rate and jitter to >= 0, jitter
  // to <= 1, max_elapsed to >= 0.
  explicit ShedController(Policy policy);

  // Called about once a second. `self` is this pod: its name, its open connections now (not
  // counting those already being closed) and whether it is draining; `pods` is the latest
  // snapshot of the registry; `random01` is a number in [0, 1) (clamped) drawn for the jitter.
  // Returns how many connections to close now, 0 most of the time: something only when some
  // pod is outside average * (1 +- threshold) and this one is above the average. It is at most
  // what takes this pod down to the average (rounded down, so a pod less than one connection
  // above it sheds nothing) and down to min_connections. The budget grows by max_rate * average
  // * the time since the previous call (none on the first call; at most max_elapsed), scaled by
  // the jitter, while the state is kPacing or kShedding, and is dropped in any other state.
  size_t Decide(Clock::time_point now, const PodLoad& self, const Snapshot& pods, double random01);

  // The state of the last Decide (kNoData before the first).
  State state() const { return state_; }

  // The mean count of the pods the last Decide saw, this one counted once with its own count,
  // whatever the state; 0 before the first.
  double average() const { return average_; }

  // A short lowercase name of `state` for logs and metric labels ("shedding", "pacing", ...).
  static std::string_view StateName(State state);

 private:
  // The state for these counts, and in `room` how many connections this pod may shed at most.
  State Assess(Clock::time_point now, const PodLoad& self, const Snapshot& pods, size_t& room);

  Policy policy_;
  State state_ = State::kNoData;
  double average_ = 0;
  double budget_ = 0;  // connections that may be shed, carried between calls
  bool called_ = false;
  Clock::time_point last_call_;
};

}  // namespace switchboard::server
