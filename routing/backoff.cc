#include "routing/backoff.h"

#include <algorithm>

namespace switchboard::routing {

Backoff::Duration Backoff::Next(double random_unit) {
  const Duration base = next_;
  next_ = std::min(max_, next_ * 2);
  const auto half = base.count() / 2;
  const auto jitter = static_cast<int64_t>(static_cast<double>(base.count() - half) *
                                           std::clamp(random_unit, 0.0, 1.0));
  return Duration(half + jitter);
}

}  // namespace switchboard::routing
