#include "protocol/peer_id.h"

namespace switchboard::protocol {

namespace {
bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}
}  // namespace

bool IsValidPeerId(std::string_view id) {
  if (id.empty() || id.size() > kMaxPeerIdLength) return false;
  for (char c : id) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

}  // namespace switchboard::protocol
