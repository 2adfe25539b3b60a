#include "routing/owner_cache.h"

#include <algorithm>

namespace switchboard::routing {

OwnerCache::OwnerCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

OwnerCache::Entry* OwnerCache::Find(std::string_view peer) {
  auto it = index_.find(peer);
  if (it == index_.end()) return nullptr;
  if (it->second != order_.begin()) order_.splice(order_.begin(), order_, it->second);
  return &it->second->entry;
}

void OwnerCache::Learn(std::string_view peer, std::string_view pod) {
  if (index_.contains(peer)) return;
  if (index_.size() >= capacity_) {
    index_.erase(order_.back().peer);
    order_.pop_back();
  }
  order_.push_front(Node{std::string(peer), Entry{std::string(pod), 0}});
  // The key views the node's own string, which a std::list never moves.
  index_.emplace(order_.front().peer, order_.begin());
}

OwnerCache::Entry OwnerCache::Forget(std::string_view peer) {
  auto it = index_.find(peer);
  if (it == index_.end()) return {};
  Order::iterator node = it->second;
  index_.erase(it);
  Entry entry = std::move(node->entry);
  order_.erase(node);
  return entry;
}

}  // namespace switchboard::routing
