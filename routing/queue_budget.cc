#include "routing/queue_budget.h"

namespace switchboard::routing {

void QueueBudget::Forget(Clock::time_point now) {
  while (!charges_.empty() && charges_.front().at + window_ <= now) {
    const Entry& oldest = charges_.front();
    auto usage = by_sender_.find(oldest.sender);
    usage->second.frames -= 1;
    usage->second.bytes -= oldest.bytes;
    if (usage->second.frames == 0) by_sender_.erase(usage);
    bytes_ -= oldest.bytes;
    charges_.pop_front();
  }
}

bool QueueBudget::Allows(std::string_view sender, size_t bytes, Clock::time_point now) {
  Forget(now);
  if (charges_.size() + 1 > limits_.frames_total || bytes_ + bytes > limits_.bytes_total) {
    return false;
  }
  auto usage = by_sender_.find(sender);
  if (usage == by_sender_.end()) return bytes <= limits_.bytes_per_sender;
  return usage->second.frames + 1 <= limits_.frames_per_sender &&
         usage->second.bytes + bytes <= limits_.bytes_per_sender;
}

void QueueBudget::Charge(std::string_view sender, size_t bytes, Clock::time_point now) {
  auto usage = by_sender_.find(sender);
  if (usage == by_sender_.end()) usage = by_sender_.emplace(std::string(sender), Usage{}).first;
  usage->second.frames += 1;
  usage->second.bytes += bytes;
  bytes_ += bytes;
  charges_.push_back(Entry{now, std::string(sender), bytes});
}

}  // namespace switchboard::routing
