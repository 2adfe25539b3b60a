// The Lua scripts of the Redis swarm directory (redis_swarm_directory.h). Each touches the keys
// of one swarm, which share the swarm's hash tag (KeyLayout::Swarm*), so it runs on one Redis
// Cluster slot. A swarm is three keys: its members (a sorted set, scored by the Unix ms at which
// each lapses), the complete ones among them (a set) and its download count (a string). All
// three lapse together a member TTL after the last announce, so a swarm nobody announces in
// leaves nothing behind.
#pragma once

#include <string_view>

namespace switchboard::routing::scripts {

// KEYS: members, complete, downloaded
// ARGV: member, complete ("1" or "0"), completed event ("1" or "0"), wanted, member TTL ms,
// max members
// Drops up to 100 lapsed members (by Redis' clock), then adds or refreshes the member, unless it
// is new and the swarm holds max members: then nothing changes. Picks up to `wanted` others at
// random (ZRANDMEMBER: distinct). Returns {"OK"|"FULL", complete, incomplete, downloaded,
// picked...}.
extern const std::string_view kSwarmAnnounce;

// KEYS: members, complete
// ARGV: member
// Removes the member. Returns 1 if it was there, else 0.
extern const std::string_view kSwarmLeave;

// KEYS: members, complete, downloaded
// ARGV: none
// Drops up to 100 lapsed members, then returns {complete, incomplete, downloaded}.
extern const std::string_view kSwarmCounts;

}  // namespace switchboard::routing::scripts
