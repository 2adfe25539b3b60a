#include "routing/embedded_registry.h"

#include <algorithm>
#include <utility>

namespace switchboard::routing {

EmbeddedRegistry::EmbeddedRegistry(Options options)
    : swarms_(options.swarm_limits),
      pending_(options.expire, options.max_queued_per_peer),
      budget_(options.queue_budget, options.expire) {}

void EmbeddedRegistry::Register(std::string_view peer, std::string_view token,
                                PeerConnection* connection, RegisterCallback done) {
  RegisterResult result = RegisterResult::kRegistered;
  if (const PeerTable::Entry* holder = peers_.Find(peer)) {
    if (!TokenAllowsTakeover(holder->token, token)) {
      done(RegisterResult::kIdTaken);
      return;
    }
    // The old connection unregisters itself later; by then the entry names the new one, so
    // its Unregister is a no-op.
    holder->connection->Evict(Eviction::kReplaced);
    result = RegisterResult::kTookOver;
  }
  peers_.Set(peer, connection, token);
  done(result);
  for (PendingQueue::Item& item : pending_.Take(peer)) {
    connection->Deliver(std::move(item.frame), FrameOrigin{{}, item.from});
    ++stats_.relayed_local;
  }
}

void EmbeddedRegistry::Unregister(std::string_view peer, PeerConnection* connection,
                                  std::vector<UnsentFrame> unsent) {
  const bool held = peers_.EraseIfHeldBy(peer, connection);
  std::vector<std::string_view> told;
  for (UnsentFrame& item : unsent) {
    if (!item.frame.queue_if_absent) continue;
    if (held) {  // nothing is queued for the peer yet: these go first
      Queue(item.sender, peer, std::move(item.frame), {}, Clock::now());
    } else if (std::find(told.begin(), told.end(), item.sender) == told.end()) {
      told.push_back(item.sender);
      NotifySender(item.sender, peer, Undeliverable::kPeerUnavailable, {});
    }
  }
}

void EmbeddedRegistry::Route(std::string_view from, std::string_view to, RoutedFrame frame,
                             std::string_view ref) {
  if (const PeerTable::Entry* target = peers_.Find(to)) {
    target->connection->Deliver(std::move(frame), FrameOrigin{{}, from});
    ++stats_.relayed_local;
    return;
  }
  if (!frame.queue_if_absent) return;
  const Clock::time_point now = frame.accepted_at;
  Queue(from, to, std::move(frame), ref, now);
}

void EmbeddedRegistry::Queue(std::string_view from, std::string_view to, RoutedFrame frame,
                             std::string_view ref, Clock::time_point now) {
  const size_t bytes = frame.frame.size();
  if (budget_.Allows(from, bytes, now) && pending_.Push(to, from, std::move(frame), now)) {
    budget_.Charge(from, bytes, now);
    ++stats_.queued;
  } else {
    ++stats_.queue_rejected;
    NotifySender(from, to, Undeliverable::kPeerUnavailable, ref);
  }
}

void EmbeddedRegistry::ListPeers(ListCallback done) {
  std::vector<std::string> ids;
  ids.reserve(peers_.size());
  peers_.ForEach(
      [&ids](std::string_view peer, const PeerTable::Entry&) { ids.emplace_back(peer); });
  done(std::move(ids));
}

void EmbeddedRegistry::Tick(Clock::time_point now) {
  pending_.Expire(now, [this](std::string_view from, std::string_view target, size_t dropped) {
    stats_.expired += dropped;
    NotifySender(from, target, Undeliverable::kPeerUnavailable, {});
  });
  swarms_.Tick(now);
}

RoutingStats EmbeddedRegistry::stats() const {
  RoutingStats stats = stats_;
  stats.peers = peers_.size();
  stats.queued_now = pending_.size();
  return stats;
}

void EmbeddedRegistry::NotifySender(std::string_view sender, std::string_view target,
                                    Undeliverable reason, std::string_view ref) {
  if (const PeerTable::Entry* entry = peers_.Find(sender)) {
    entry->connection->NotifyUndeliverable(target, reason, ref);
  }
}

}  // namespace switchboard::routing
