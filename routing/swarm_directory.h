// Where swarm membership lives, for every pod: which peers are in which swarm, and a few of them
// picked at random for a peer that announces (docs/tracker.md). Two backends, as for peer ids
// (registry.h): EmbeddedSwarmDirectory keeps a SwarmTable in this process, for a single pod; a
// Redis one shares the swarms between pods. Calls may complete later than they return, so results
// come through callbacks, possibly before the call returns. All methods run on the event loop
// thread; a callback may call the directory again.
#pragma once

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "routing/routed_frame.h"
#include "routing/swarm_table.h"

namespace switchboard::routing {

class SwarmDirectory {
 public:
  // The outcome of an announce, or nullopt when the backend could not be reached.
  using AnnounceCallback = std::function<void(std::optional<SwarmAnnounced>)>;
  // Each swarm's counts, in the order asked, or nullopt when the backend could not be reached.
  using ScrapeCallback = std::function<void(std::optional<std::vector<SwarmCounts>>)>;

  virtual ~SwarmDirectory() = default;

  // Adds or refreshes `announce.member` in `announce.swarm` and picks up to `announce.wanted`
  // other members (SwarmTable::Announce has the rules). The views in `announce` need only last
  // the call. Calls `done` exactly once.
  virtual void Announce(const SwarmAnnounce& announce, AnnounceCallback done) = 0;

  // Removes `member` from `swarm`, if it is there. Nothing is reported: a member the backend
  // could not reach lapses with its TTL.
  virtual void Leave(std::string_view swarm, std::string_view member) = 0;

  // The counts of each of `swarms`. Calls `done` exactly once.
  virtual void Scrape(const std::vector<std::string>& swarms, ScrapeCallback done) = 0;

  // Periodic work (lapsing members), on the server's timer.
  virtual void Tick(Clock::time_point /*now*/) {}
};

// The single-pod backend: a SwarmTable, on the steady clock.
class EmbeddedSwarmDirectory : public SwarmDirectory {
 public:
  explicit EmbeddedSwarmDirectory(SwarmTable::Limits limits);

  void Announce(const SwarmAnnounce& announce, AnnounceCallback done) override;
  void Leave(std::string_view swarm, std::string_view member) override;
  void Scrape(const std::vector<std::string>& swarms, ScrapeCallback done) override;
  void Tick(Clock::time_point now) override;

 private:
  SwarmTable table_;
  std::mt19937_64 random_;
};

}  // namespace switchboard::routing
