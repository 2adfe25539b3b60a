// The single-pod routing backend: every peer is local, queues live in this process.
//
// It is the default (no Redis needed on one machine) and the reference for the semantics the
// Redis backend must match: docs/architecture.md.
#pragma once

#include "routing/peer_table.h"
#include "routing/pending_queue.h"
#include "routing/queue_budget.h"
#include "routing/registry.h"

namespace switchboard::routing {

class EmbeddedRegistry : public Registry {
 public:
  struct Options {
    Clock::duration expire = std::chrono::milliseconds(5000);  // how long a frame may wait
    size_t max_queued_per_peer = 256;                          // frames one absent peer may have
    QueueBudget::Limits queue_budget = {};  // what one sender, and all, may have queued
    SwarmTable::Limits swarm_limits = {};   // swarm_directory.h
  };

  explicit EmbeddedRegistry(Options options);

  void Register(std::string_view peer, std::string_view token, PeerConnection* connection,
                RegisterCallback done) override;
  void Unregister(std::string_view peer, PeerConnection* connection,
                  std::vector<UnsentFrame> unsent) override;
  void Route(std::string_view from, std::string_view to, RoutedFrame frame,
             std::string_view ref) override;
  void ListPeers(ListCallback done) override;
  SwarmDirectory& swarms() override { return swarms_; }
  // Expires queued frames and lapses swarm members.
  void Tick(Clock::time_point now) override;
  RoutingStats stats() const override;

 private:
  // Queues `frame` from `from` for the absent peer `to`, or tells `from` it cannot wait.
  void Queue(std::string_view from, std::string_view to, RoutedFrame frame, std::string_view ref,
             Clock::time_point now);
  // Tells `sender` (if it is still connected) that its frames for `target` were not delivered.
  void NotifySender(std::string_view sender, std::string_view target, Undeliverable reason,
                    std::string_view ref);

  EmbeddedSwarmDirectory swarms_;
  PeerTable peers_;
  PendingQueue pending_;
  QueueBudget budget_;
  RoutingStats stats_;
};

}  // namespace switchboard::routing
