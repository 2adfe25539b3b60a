// Peer ids: the names peers are addressed by, in every dialect.
#pragma once

#include <cstddef>
#include <string_view>

namespace switchboard::protocol {

constexpr size_t kMaxPeerIdLength = 64;

// True when `id` is 1 to kMaxPeerIdLength characters of A-Z a-z 0-9 _ -.
// Ids that pass need no escaping inside a JSON string.
bool IsValidPeerId(std::string_view id);

}  // namespace switchboard::protocol
