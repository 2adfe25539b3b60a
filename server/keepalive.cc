#include "server/keepalive.h"

namespace switchboard::server {

Keepalive::Action Keepalive::Check(uint64_t now_ms) {
  const uint64_t silent = now_ms > last_heard_ms_ ? now_ms - last_heard_ms_ : 0;
  if (silent >= interval_ms_ + timeout_ms_) return Action::kHangUp;
  if (silent < interval_ms_ || pinged_) return Action::kNone;
  pinged_ = true;
  return Action::kPing;
}

}  // namespace switchboard::server
