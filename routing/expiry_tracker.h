// When to ask Redis whether frames a pod queued there have expired.
//
// A pod that queues a frame in Redis (the route step said "Q") must tell the sender if the
// target never comes; the queue itself is in Redis, so the pod remembers only the (sender pod,
// sender, target) pair and when its oldest frame is due, and then runs the expire step. One
// check per pair is pending at a time: queuing more frames for a pair already tracked changes
// nothing, since the check looks at the pair's oldest frame and reschedules itself.
//
// Pure bookkeeping: no I/O.
#pragma once

#include <deque>
#include <string>
#include <unordered_set>
#include <vector>

#include "routing/routed_frame.h"
#include "routing/string_map.h"

namespace switchboard::routing {

class ExpiryTracker {
 public:
  struct Pair {
    std::string sender_pod;
    std::string sender;
    std::string target;
  };

  // Checks `pair` at `at`, unless a check of it is pending (tracked, or taken and not Finished).
  void Track(Pair pair, Clock::time_point at);

  // Removes and returns the pairs due by `now`, earliest first. Each stays pending until
  // Finished(pair): Track calls for it meanwhile change nothing.
  std::vector<Pair> TakeDue(Clock::time_point now);

  // The check of `pair` is over: it may be tracked again.
  void Finished(const Pair& pair);

  // Removes and returns every tracked pair (their queues are gone), and forgets those pending.
  std::vector<Pair> TakeAll();

  size_t size() const { return pending_.size(); }

  // True while a check is pending for a pair whose target is `target`: frames of this pod's
  // senders may still wait in its queue.
  bool HasTarget(std::string_view target) const { return pending_targets_.contains(target); }

 private:
  struct Check {
    Pair pair;
    Clock::time_point at;
  };
  static std::string KeyOf(const Pair& pair);

  std::deque<Check> checks_;                 // ordered by time
  std::unordered_set<std::string> pending_;  // "<sender pod> <sender> <target>"
  StringMap<int> pending_targets_;           // target -> pairs pending
};

}  // namespace switchboard::routing
