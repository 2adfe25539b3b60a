#include "routing/pending_queue.h"

#include <algorithm>
#include <vector>

namespace switchboard::routing {

PendingQueue::PendingQueue(Clock::duration ttl, size_t max_per_target)
    : ttl_(ttl), max_per_target_(max_per_target) {}

bool PendingQueue::Push(std::string_view target, std::string_view from, RoutedFrame frame,
                        Clock::time_point now) {
  auto it = queues_.find(std::string(target));
  if (it == queues_.end()) it = queues_.emplace(std::string(target), std::deque<Item>{}).first;
  if (it->second.size() >= max_per_target_) return false;
  it->second.push_back(Item{std::string(from), std::move(frame), now + ttl_});
  ++size_;
  return true;
}

std::deque<PendingQueue::Item> PendingQueue::Take(std::string_view target) {
  auto it = queues_.find(std::string(target));
  if (it == queues_.end()) return {};
  std::deque<Item> items = std::move(it->second);
  queues_.erase(it);
  size_ -= items.size();
  return items;
}

void PendingQueue::Expire(
    Clock::time_point now,
    const std::function<void(std::string_view, std::string_view, size_t)>& on_expired) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    std::deque<Item>& items = it->second;
    while (!items.empty() && items.front().deadline <= now) {
      const std::string sender = items.front().from;
      const auto kept = std::remove_if(items.begin(), items.end(),
                                       [&](const Item& item) { return item.from == sender; });
      const auto dropped = static_cast<size_t>(items.end() - kept);
      items.erase(kept, items.end());
      size_ -= dropped;
      on_expired(sender, it->first, dropped);
    }
    it = items.empty() ? queues_.erase(it) : std::next(it);
  }
}

}  // namespace switchboard::routing
