#include "routing/expiry_tracker.h"

#include <algorithm>

namespace switchboard::routing {

std::string ExpiryTracker::KeyOf(const Pair& pair) {
  return pair.sender_pod + ' ' + pair.sender + ' ' + pair.target;
}

void ExpiryTracker::Track(Pair pair, Clock::time_point at) {
  if (!pending_.insert(KeyOf(pair)).second) return;
  ++pending_targets_[pair.target];
  // Check times are nearly always increasing; keep the deque sorted all the same.
  auto position = std::upper_bound(checks_.begin(), checks_.end(), at,
                                   [](Clock::time_point t, const Check& c) { return t < c.at; });
  checks_.insert(position, Check{std::move(pair), at});
}

std::vector<ExpiryTracker::Pair> ExpiryTracker::TakeDue(Clock::time_point now) {
  std::vector<Pair> due;
  while (!checks_.empty() && checks_.front().at <= now) {
    due.push_back(std::move(checks_.front().pair));
    checks_.pop_front();
  }
  return due;
}

void ExpiryTracker::Finished(const Pair& pair) {
  if (pending_.erase(KeyOf(pair)) == 0) return;
  auto target = pending_targets_.find(pair.target);
  if (target != pending_targets_.end() && --target->second == 0) pending_targets_.erase(target);
}

std::vector<ExpiryTracker::Pair> ExpiryTracker::TakeAll() {
  std::vector<Pair> all;
  all.reserve(checks_.size());
  for (Check& check : checks_) all.push_back(std::move(check.pair));
  checks_.clear();
  pending_.clear();
  pending_targets_.clear();
  return all;
}

}  // namespace switchboard::routing
