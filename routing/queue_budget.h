// How much one sender, and this pod's senders together, may have waiting for absent peers.
//
// Queues are capped per target (--max-queued-per-peer), but a sender can spread its frames over
// many absent ids: ten connections within the rate limit, sending 60 KB frames to ids nobody
// holds, once held 260 MB of a pod's memory, and five filled a 30 MB Redis. So every frame a
// sender queues is charged to it and to the pod, and a frame past either budget is refused (its
// sender gets the queue-full error) before it is queued. With Redis the pod cannot know, when
// it asks the route step, whether the target is absent: the frame is charged then, and past the
// budget the step is asked to deliver it if it can, but not to queue it.
//
// A queued frame waits at most the expiry window (--expire-ms), so a charge is kept for that long
// and then forgotten: what was charged within the last window bounds what can still be waiting.
// That holds for both backends without asking Redis what its queues hold, at the price of
// counting a frame that was delivered early until its window ends.
//
// Pure: time is passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "routing/routed_frame.h"
#include "routing/string_map.h"

namespace switchboard::routing {

class QueueBudget {
 public:
  struct Limits {
    size_t frames_per_sender = 1024;
    size_t bytes_per_sender = 1 << 20;
    size_t frames_total = 65536;
    size_t bytes_total = 64 << 20;
  };

  // Charges last `window` (the queue expiry).
  QueueBudget(Limits limits, Clock::duration window) : limits_(limits), window_(window) {}

  // Whether `sender` may queue one more frame of `bytes` at `now`, within its budget and the
  // pod's. Forgets the charges older than the window first.
  bool Allows(std::string_view sender, size_t bytes, Clock::time_point now);

  // Charges a frame of `bytes` that `sender` queued at `now` (times must not go backwards).
  void Charge(std::string_view sender, size_t bytes, Clock::time_point now);

  // What is charged now, in all.
  size_t frames() const { return charges_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Usage {
    size_t frames = 0;
    size_t bytes = 0;
  };
  struct Entry {
    Clock::time_point at;
    std::string sender;
    size_t bytes;
  };

  void Forget(Clock::time_point now);

  Limits limits_;
  Clock::duration window_;
  std::deque<Entry> charges_;  // oldest first
  StringMap<Usage> by_sender_;
  size_t bytes_ = 0;
};

}  // namespace switchboard::routing
