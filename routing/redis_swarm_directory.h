// Swarm membership in Redis, shared by every pod (swarm_directory.h has the contract): each swarm
// is a sorted set of its members scored by when they lapse, beside a set of the complete ones
// and a download count, all under the swarm's own hash tag (key_layout.h), changed only by the
// scripts of redis_swarm_scripts.h. So any pod can pick members that other pods hold, and the
// swarms spread over a Redis Cluster's shards.
//
// Lapsing runs on Redis' clock, inside each announce and scrape (a bounded batch each time), and
// a swarm's keys lapse together a TTL after its last announce; nothing ticks here. There is no
// bound on the number of swarms: each lives only while announced in, and the announces are
// bounded per connection by the tracker session.
#pragma once

#include "routing/key_layout.h"
#include "routing/redis_link.h"
#include "routing/swarm_directory.h"

namespace switchboard::routing {

class RedisSwarmDirectory : public SwarmDirectory {
 public:
  // Which of the link's scripts (RedisLink::Options::scripts) are redis_swarm_scripts.h's.
  struct ScriptIds {
    int announce = -1;
    int leave = -1;
    int counts = -1;
  };

  // `link` and `layout` are not owned and must outlive the directory; `limits.max_swarms` is not
  // used (see above).
  RedisSwarmDirectory(RedisLink& link, const KeyLayout& layout, ScriptIds scripts,
                      SwarmTable::Limits limits);

  void Announce(const SwarmAnnounce& announce, AnnounceCallback done) override;
  void Leave(std::string_view swarm, std::string_view member) override;
  void Scrape(const std::vector<std::string>& swarms, ScrapeCallback done) override;

 private:
  RedisLink& link_;
  const KeyLayout& layout_;
  ScriptIds scripts_;
  std::string ttl_ms_;
  std::string max_members_;
};

}  // namespace switchboard::routing
