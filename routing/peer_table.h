// The peers connected to this pod: id -> connection and the token that may take the id over.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "routing/peer_connection.h"
#include "routing/string_map.h"

namespace switchboard::routing {

class PeerTable {
 public:
  struct Entry {
    PeerConnection* connection;
    std::string token;
  };

  // The entry for `peer`, or nullptr. The pointer is valid until the table changes.
  const Entry* Find(std::string_view peer) const;

  // Sets `peer` to `connection` with `token`, replacing any entry it had.
  void Set(std::string_view peer, PeerConnection* connection, std::string_view token);

  // Removes `peer` if its entry is `connection`. Returns true if it removed it.
  bool EraseIfHeldBy(std::string_view peer, const PeerConnection* connection);

  size_t size() const { return entries_.size(); }

  // Calls `visit(peer, entry)` for every entry. `visit` must not change the table.
  void ForEach(const std::function<void(std::string_view, const Entry&)>& visit) const {
    for (const auto& [peer, entry] : entries_) visit(peer, entry);
  }

 private:
  StringMap<Entry> entries_;
};

// True when `presented` may take over an id held with `held`: both non-empty and equal. Compares
// in constant time so that timing does not reveal how much of a token was right.
bool TokenAllowsTakeover(std::string_view held, std::string_view presented);

}  // namespace switchboard::routing
