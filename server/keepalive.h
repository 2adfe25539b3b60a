// When to ping an idle client, and when to give up on it: the WebSocket keepalive, as pure logic.
//
// libwebsockets can do this itself (its "validity" policy), but it keeps one timer per connection
// in a single sorted list and re-sorts an entry on every sign of life: a walk of the whole list,
// which at tens of thousands of connections cost more than relaying (docs/benchmarks.md). The
// server's 100 ms tick already visits every session, so each session keeps one of these and the
// tick asks it what to do. Times are milliseconds of the event loop's clock.
#pragma once

#include <cstdint>

namespace switchboard::server {

class Keepalive {
 public:
  enum class Action { kNone, kPing, kHangUp };

  // Pings a client silent for `interval_ms`, and hangs up on one still silent `timeout_ms` after.
  Keepalive(uint64_t interval_ms, uint64_t timeout_ms)
      : interval_ms_(interval_ms), timeout_ms_(timeout_ms) {}

  // The client showed it is alive at `now_ms`: any frame, or a pong.
  void Heard(uint64_t now_ms) {
    last_heard_ms_ = now_ms;
    pinged_ = false;
  }

  // What to do at `now_ms`: kPing once per silence, kHangUp when the silence outlasted both.
  Action Check(uint64_t now_ms);

 private:
  uint64_t interval_ms_;
  uint64_t timeout_ms_;
  uint64_t last_heard_ms_ = 0;
  bool pinged_ = false;
};

}  // namespace switchboard::server
