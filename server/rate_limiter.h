// Per-connection flood control: a token bucket, and a count of refusals that turns a client
// which keeps pushing past its limit into a disconnect.
//
// Pure logic: time is passed in, so it is tested without sleeping.
#pragma once

#include <chrono>

namespace switchboard::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Verdict {
    kAllow,      // go ahead
    kRefuse,     // over the limit: answer rate-limited, do not relay
    kDisconnect  // refused more than `strikes` times within the strike window: close (1008)
  };

  static constexpr Clock::duration kStrikeWindow = std::chrono::seconds(10);

  // `rate` tokens per second, at most `burst` saved up; the bucket starts full.
  RateLimiter(double rate, double burst, int strikes, Clock::time_point now);

  // Takes one token for a message arriving at `now`.
  Verdict Admit(Clock::time_point now);

 private:
  double rate_;
  double burst_;
  int max_strikes_;
  double tokens_;
  Clock::time_point refilled_at_;
  int strikes_ = 0;
  Clock::time_point strike_window_start_;
};

}  // namespace switchboard::server
