#include "routing/swarm_directory.h"

#include <utility>

namespace switchboard::routing {

EmbeddedSwarmDirectory::EmbeddedSwarmDirectory(SwarmTable::Limits limits)
    : table_(limits), random_(std::random_device{}()) {}

void EmbeddedSwarmDirectory::Announce(const SwarmAnnounce& announce, AnnounceCallback done) {
  done(table_.Announce(announce, Clock::now(), random_));
}

void EmbeddedSwarmDirectory::Leave(std::string_view swarm, std::string_view member) {
  table_.Leave(swarm, member);
}

void EmbeddedSwarmDirectory::Scrape(const std::vector<std::string>& swarms, ScrapeCallback done) {
  std::vector<SwarmCounts> counts;
  counts.reserve(swarms.size());
  for (const std::string& swarm : swarms) counts.push_back(table_.Counts(swarm));
  done(std::move(counts));
}

void EmbeddedSwarmDirectory::Tick(Clock::time_point now) { table_.Expire(now); }

}  // namespace switchboard::routing
