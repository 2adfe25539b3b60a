#include "server/shed_controller.h"

#include <algorithm>
#include <cmath>

namespace switchboard::server {

ShedController::ShedController(Policy policy) : policy_(policy) {
  policy_.threshold = std::max(policy_.threshold, 0.0);
  policy_.max_rate = std::max(policy_.max_rate, 0.0);
  policy_.jitter = std::clamp(policy_.jitter, 0.0, 1.0);
  policy_.max_elapsed = std::max(policy_.max_elapsed, Clock::duration::zero());
}

ShedController::State ShedController::Assess(Clock::time_point now, const PodLoad& self,
                                             const Snapshot& pods, size_t& room) {
  room = 0;
  size_t count = 1;
  double total = static_cast<double>(self.connections);
  bool draining = self.draining;
  for (const PodLoad& pod : pods.pods) {
    if (pod.pod == self.pod) continue;
    ++count;
    total += static_cast<double>(pod.connections);
    draining = draining || pod.draining;
  }
  average_ = total / static_cast<double>(count);

  if (self.draining) return State::kDraining;
  if (pods.read_at == Clock::time_point() || now - pods.read_at > policy_.max_age) {
    return State::kNoData;
  }
  if (count == 1) return State::kAlone;
  if (draining) return State::kDraining;

  const double band = policy_.threshold * average_;
  auto in_band = [&](size_t connections) {
    return std::abs(static_cast<double>(connections) - average_) <= band;
  };
  bool balanced = in_band(self.connections);
  for (const PodLoad& pod : pods.pods) {
    if (pod.pod != self.pod) balanced = balanced && in_band(pod.connections);
  }
  if (balanced) return State::kBalanced;

  const double own = static_cast<double>(self.connections);
  if (own - average_ < 1) return State::kAtOrBelowAverage;
  if (self.connections <= policy_.min_connections) return State::kBelowFloor;
  room = std::min(static_cast<size_t>(std::floor(own - average_)),
                  self.connections - policy_.min_connections);
  return State::kPacing;
}

size_t ShedController::Decide(Clock::time_point now, const PodLoad& self, const Snapshot& pods,
                              double random01) {
  Clock::duration elapsed = called_ ? now - last_call_ : Clock::duration::zero();
  elapsed = std::clamp(elapsed, Clock::duration::zero(), policy_.max_elapsed);
  called_ = true;
  last_call_ = now;

  size_t room = 0;
  state_ = Assess(now, self, pods, room);
  if (state_ != State::kPacing) {
    budget_ = 0;
    return 0;
  }

  // Mean 1 over random01 uniform in [0, 1), so the long-run rate is max_rate.
  const double jitter = 1 + policy_.jitter * (std::clamp(random01, 0.0, 1.0) - 0.5);
  budget_ += policy_.max_rate * average_ * std::chrono::duration<double>(elapsed).count() * jitter;
  const size_t shed = std::min(static_cast<size_t>(std::floor(budget_)), room);
  budget_ = std::min(budget_ - static_cast<double>(shed), 1.0);
  if (shed > 0) state_ = State::kShedding;
  return shed;
}

std::string_view ShedController::StateName(State state) {
  switch (state) {
    case State::kShedding:
      return "shedding";
    case State::kPacing:
      return "pacing";
    case State::kBalanced:
      return "balanced";
    case State::kAtOrBelowAverage:
      return "at_or_below_average";
    case State::kBelowFloor:
      return "below_floor";
    case State::kAlone:
      return "alone";
    case State::kDraining:
      return "draining";
    case State::kNoData:
      return "no_data";
  }
  return "unknown";
}

}  // namespace switchboard::server
