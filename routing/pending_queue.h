// Frames waiting for a peer that is not connected yet.
//
// Each target has a FIFO of frames. Every frame has the same time to live, so each FIFO is
// ordered by deadline too. When the first frame from a sender to a target expires, every frame
// from that sender to that target is dropped with it and the sender is told once: delivering
// the later frames without the earlier ones (an answer without its offer) would be worse than
// useless, and one notice per (sender, target) is what the protocol promises.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "routing/routed_frame.h"

namespace switchboard::routing {

class PendingQueue {
 public:
  struct Item {
    std::string from;
    RoutedFrame frame;
    Clock::time_point deadline;
  };

  // `ttl`: how long a frame waits. `max_per_target`: frames one target may have waiting.
  PendingQueue(Clock::duration ttl, size_t max_per_target);

  // Queues `frame` from `from` for `target`, to expire at now + ttl. Returns false, and queues
  // nothing, when `target` already has max_per_target frames waiting.
  bool Push(std::string_view target, std::string_view from, RoutedFrame frame,
            Clock::time_point now);

  // Removes and returns every frame waiting for `target`, oldest first.
  std::deque<Item> Take(std::string_view target);

  // Drops the frames whose deadline is at or before `now`, with every later frame from the same
  // sender to the same target, and calls `on_expired(from, target, dropped_count)` once per
  // (sender, target) pair dropped.
  void Expire(Clock::time_point now,
              const std::function<void(std::string_view from, std::string_view target,
                                       size_t dropped)>& on_expired);

  // Frames waiting in all queues.
  size_t size() const { return size_; }

 private:
  Clock::duration ttl_;
  size_t max_per_target_;
  size_t size_ = 0;
  std::unordered_map<std::string, std::deque<Item>> queues_;
};

}  // namespace switchboard::routing
