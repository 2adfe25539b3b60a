// Keeps a log line that can repeat at an attacker's pace (a refused handshake, a failed accept)
// from flooding the logs: at most `lines` of it per `window`, and the next line written says how
// many were held back meanwhile.
//
// Pure: time is passed in.
#pragma once

#include <chrono>
#include <cstdint>

namespace switchboard::server {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  LogThrottle(int lines, Clock::duration window) : lines_(lines), window_(window) {}

  // Whether a line may be written at `now`. When it may, `suppressed` is set to the lines refused
  // since the last one written (0 mostly), which the line should report.
  bool Admit(Clock::time_point now, long long* suppressed) {
    if (now - window_start_ >= window_) {
      window_start_ = now;
      written_ = 0;
    }
    if (written_ >= lines_) {
      ++suppressed_;
      return false;
    }
    ++written_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  int lines_;
  Clock::duration window_;
  Clock::time_point window_start_{};
  int written_ = 0;
  long long suppressed_ = 0;
};

}  // namespace switchboard::server
