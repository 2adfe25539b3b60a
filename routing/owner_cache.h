// A pod's bounded memory of which pod holds which remote peer, so that a frame for a peer whose
// pod is known costs Redis one PUBLISH instead of a Lua lookup.
//
// It is a hint, never the truth: Redis' peer map is. An entry goes stale when its peer moves,
// and the pod that no longer holds the peer hands the frame back (a bounce, pod_message.h); the
// sender's pod then forgets the entry. Entries are learned from lookups and from frames received,
// and the least recently used one makes room when the cache is full.
//
// Each entry also remembers the sequence number of the last frame published through it, so that
// when it turns out stale the registry knows which publishes are still on their way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "routing/string_map.h"

namespace switchboard::routing {

class OwnerCache {
 public:
  struct Entry {
    std::string pod;
    uint64_t last_publish = 0;  // sequence number of the last frame published through it; 0: none
  };

  // A cache of at most `capacity` entries (at least 1).
  explicit OwnerCache(size_t capacity);

  // The entry for `peer`, marked as just used, or nullptr. The pointer is valid until the cache
  // changes.
  Entry* Find(std::string_view peer);

  // Remembers that `pod` holds `peer`, unless an entry for `peer` exists already (an existing
  // entry changes only by Forget: see docs/architecture.md, "Order across a move"). Evicts the
  // least recently used entry when full.
  void Learn(std::string_view peer, std::string_view pod);

  // Removes the entry for `peer` and returns it; an entry with an empty pod when there was none.
  Entry Forget(std::string_view peer);

  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Node {
    std::string peer;
    Entry entry;
  };
  using Order = std::list<Node>;  // most recently used first

  size_t capacity_;
  Order order_;
  std::unordered_map<std::string_view, Order::iterator, StringViewHash> index_;
};

}  // namespace switchboard::routing
