// Exponential backoff with jitter, for reconnecting to Redis: many pods that lost Redis at the
// same moment must not all knock on it again in the same millisecond.
#pragma once

#include <chrono>
#include <cstdint>

namespace switchboard::routing {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;

  // Delays start at `initial`, double on each failure, and stop growing at `max`.
  Backoff(Duration initial, Duration max) : initial_(initial), max_(max), next_(initial) {}

  // The delay before the next attempt, with "equal jitter": half of it fixed, the other half
  // scaled by `random_unit` (a number in [0, 1) supplied by the caller, so this stays pure).
  // Each call doubles the base delay for the following one.
  Duration Next(double random_unit);

  // Back to `initial` after a success.
  void Reset() { next_ = initial_; }

 private:
  Duration initial_;
  Duration max_;
  Duration next_;
};

}  // namespace switchboard::routing
