#include "routing/peer_table.h"

namespace switchboard::routing {

const PeerTable::Entry* PeerTable::Find(std::string_view peer) const {
  auto it = entries_.find(peer);
  return it == entries_.end() ? nullptr : &it->second;
}

void PeerTable::Set(std::string_view peer, PeerConnection* connection, std::string_view token) {
  auto it = entries_.find(peer);
  if (it == entries_.end()) {
    entries_.emplace(std::string(peer), Entry{connection, std::string(token)});
  } else {
    it->second = Entry{connection, std::string(token)};
  }
}

bool PeerTable::EraseIfHeldBy(std::string_view peer, const PeerConnection* connection) {
  auto it = entries_.find(peer);
  if (it == entries_.end() || it->second.connection != connection) return false;
  entries_.erase(it);
  return true;
}

bool TokenAllowsTakeover(std::string_view held, std::string_view presented) {
  if (held.empty() || held.size() != presented.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < held.size(); ++i) {
    diff |= static_cast<unsigned char>(held[i] ^ presented[i]);
  }
  return diff == 0;
}

}  // namespace switchboard::routing
