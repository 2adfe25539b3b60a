#include "server/rate_limiter.h"

#include <algorithm>

namespace switchboard::server {

RateLimiter::RateLimiter(double rate, double burst, int strikes, Clock::time_point now)
    : rate_(rate),
      burst_(burst),
      max_strikes_(strikes),
      tokens_(burst),
      refilled_at_(now),
      strike_window_start_(now) {}

RateLimiter::Verdict RateLimiter::Admit(Clock::time_point now) {
  const std::chrono::duration<double> elapsed = now - refilled_at_;
  if (elapsed.count() > 0) {
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    refilled_at_ = now;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return Verdict::kAllow;
  }
  if (now - strike_window_start_ >= kStrikeWindow) {
    strike_window_start_ = now;
    strikes_ = 0;
  }
  return ++strikes_ > max_strikes_ ? Verdict::kDisconnect : Verdict::kRefuse;
}

}  // namespace switchboard::server
