// Swarm membership in one process: which peers are in which swarm, which of them are complete
// (seeders), and a few others picked at random for a peer that asks. A swarm is what a tracker's
// info_hash names (and a native protocol swarm, docs/protocol.md); a member is a routing key.
//
// Members that stop announcing lapse after the member TTL, as trackers drop peers after about
// two announce intervals: a client that vanished without a word (its tab closed, its network
// gone) must not be offered to others for long. Deadlines wait in a min-heap of (time, swarm,
// member); Expire pops those due and drops the member only if the entry is its latest and its
// deadline has passed. An announce queues a new entry only when it moves the deadline by a
// second or more past the one queued, so a member announcing in a loop adds at most one entry a
// second; when an entry comes due for a member refreshed less than that since, it is queued
// again at the member's real deadline.
//
// Random picks are uniform without repeats and cost O(wanted): each swarm keeps its members in
// a vector (with each member's index in a map), and a partial Fisher-Yates shuffle moves the
// picks to the front; order in the vector means nothing, so the shuffle may leave it changed.
//
// Bounded: at most max_members per swarm and max_swarms swarms; an announce that would pass
// either is refused. Pure: time and randomness are passed in. Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "routing/string_map.h"

namespace switchboard::routing {

// What a swarm counts, as a scrape reports it.
struct SwarmCounts {
  uint64_t complete = 0;    // members that have everything (seeders)
  uint64_t incomplete = 0;  // the other members (leechers)
  uint64_t downloaded = 0;  // "completed" announces since the swarm was created
};

// One announce: who, where, and what it says of itself.
struct SwarmAnnounce {
  std::string_view swarm;
  std::string_view member;  // a routing key
  bool complete = false;    // the member has everything now
  bool completed = false;   // it says it just finished (a "completed" event): counted once
  size_t wanted = 0;        // how many other members to pick
};

enum class SwarmRefusal {
  kNone,
  kSwarmFull,     // the swarm has max_members others
  kTooManySwarms  // there are max_swarms swarms and this would be a new one
};

struct SwarmAnnounced {
  SwarmRefusal refusal = SwarmRefusal::kNone;
  SwarmCounts counts;               // after the announce
  std::vector<std::string> picked;  // up to `wanted` other members, in random order
};

class SwarmTable {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    size_t max_members = 10000;  // per swarm
    size_t max_swarms = 100000;  // in this table
    Clock::duration member_ttl = std::chrono::seconds(240);
  };

  explicit SwarmTable(Limits limits) : limits_(limits) {}

  // Adds `a.member` to `a.swarm`, or refreshes it (its TTL starts again, its complete flag is
  // set as said: a member that has everything may start over), then picks up to `a.wanted`
  // other members. A refused announce changes nothing and picks nothing. `random` is the source
  // of the picks.
  SwarmAnnounced Announce(const SwarmAnnounce& a, Clock::time_point now, std::mt19937_64& random);

  // Picks up to `wanted` members of `swarm` other than `except` (may be empty), changing no
  // membership. For a member asking again without announcing.
  std::vector<std::string> Pick(std::string_view swarm, std::string_view except, size_t wanted,
                                std::mt19937_64& random);

  // Removes `member` from `swarm`; true if it was there. An emptied swarm is forgotten, with its
  // downloaded count.
  bool Leave(std::string_view swarm, std::string_view member);

  // The counts of `swarm` (zeros for a swarm nobody is in).
  SwarmCounts Counts(std::string_view swarm) const;

  // Removes the members whose TTL ran out by `now`; returns how many.
  size_t Expire(Clock::time_point now);

  size_t swarms() const { return swarms_.size(); }
  size_t members() const { return members_; }
  // Entries waiting in the deadline heap (for tests: an announce loop must not grow it).
  size_t queued_deadlines() const { return deadlines_.size(); }

 private:
  struct Member {
    std::string key;
    bool complete = false;
    Clock::time_point deadline;  // when it lapses
    Clock::time_point queued;    // the latest deadline queued for it
  };
  struct Swarm {
    std::vector<Member> members;
    StringMap<size_t> index;  // member key -> its place in `members`
    SwarmCounts counts;
  };
  struct Deadline {
    Clock::time_point at;
    std::string swarm;
    std::string member;
    bool operator>(const Deadline& other) const { return at > other.at; }
  };

  void Remove(StringMap<Swarm>::iterator swarm, size_t at);
  void Queue(std::string_view swarm, Member& member);
  std::vector<std::string> PickFrom(Swarm& swarm, std::string_view except, size_t wanted,
                                    std::mt19937_64& random);

  Limits limits_;
  StringMap<Swarm> swarms_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  size_t members_ = 0;
};

}  // namespace switchboard::routing
