// RedisRegistry: the frames of this pod's senders. A local target gets them at once; a remote
// one through one PUBLISH to the pod the owner cache names, or through the route step when the
// cache does not know it; detours keep them in order while the cache is found stale.
#include <utility>

#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

void RedisRegistry::Route(std::string_view from, std::string_view to, RoutedFrame frame,
                          std::string_view ref) {
  if (detours_.empty()) {
    if (const PeerTable::Entry* target = peers_.Find(to)) {
      target->connection->Deliver(std::move(frame), FrameOrigin{{}, from});
      ++stats_.relayed_local;
      return;
    }
  }
  RouteOwn(from, to, frame.frame.body(), ref, frame.queue_if_absent);
}

void RedisRegistry::RouteOwn(std::string_view from, std::string_view to, std::string_view frame,
                             std::string_view ref, bool queue_if_absent) {
  if (!detours_.empty() && detours_.IsOpen(to)) {
    detours_.Hold(
        to, HeldFrame{std::string(from), std::string(frame), std::string(ref), queue_if_absent});
    return;
  }
  if (const PeerTable::Entry* target = peers_.Find(to)) {
    Deliver(target->connection, frame, FrameOrigin{{}, from});
    ++stats_.relayed_local;
    return;
  }
  if (auto it = registering_.find(std::string(to)); it != registering_.end()) {
    it->second->held.push_back(
        Held{options_.pod_id, std::string(from), std::string(frame), queue_if_absent});
    ++stats_.relayed_local;
    return;
  }
  RouteRemote(from, to, frame, ref, queue_if_absent);
}

void RedisRegistry::RouteRemote(std::string_view from, std::string_view to, std::string_view frame,
                                std::string_view ref, bool queue_if_absent) {
  if (!link_.up()) {
    TellSender(options_.pod_id, from, to, Undeliverable::kUnavailable, ref);
    return;
  }
  if (OwnerCache::Entry* owner = owners_.Find(to)) {
    PublishTo(*owner, from, to, frame, ref, queue_if_absent);
    return;
  }
  RouteThroughRedis(options_.pod_id, from, to, frame, ref, queue_if_absent);
}

void RedisRegistry::PublishTo(OwnerCache::Entry& owner, std::string_view from, std::string_view to,
                              std::string_view frame, std::string_view ref, bool queue_if_absent) {
  // The message lives in publishes_ until its reply: the command is formatted from it, and if
  // nobody got it, it is routed again from there. A deque never moves its elements.
  const int bucket = KeyLayout::BucketOf(to);
  const uint64_t stream_sequence = unconfirmed_.NextSequence(owner.pod, bucket);
  publishes_.push_back(
      Publish{++publish_sequence_,
              EncodeDeliver(to, options_.pod_id, from, frame, queue_if_absent, stream_sequence),
              std::string(ref), owner.pod, bucket, stream_sequence});
  owner.last_publish = publish_sequence_;
  const std::string channel = layout_.Channel(bucket, owner.pod);
  const uint64_t sequence = publish_sequence_;
  if (!link_.Command({link_.publish_verb(), channel, publishes_.back().message},
                     [this, sequence](redisReply* reply) { OnPublishReply(sequence, reply); })) {
    OnPublishReply(sequence, nullptr, /*sent=*/false);
  }
}

void RedisRegistry::OnPublishReply(uint64_t sequence, redisReply* reply, bool sent) {
  // One Redis answers in the order the commands were sent, but the masters of a cluster each in
  // their own: publish_replied_ counts only those with every earlier one answered too.
  Publish& entry = publishes_[sequence - publishes_.front().sequence];
  Publish publish = std::move(entry);
  entry.replied = true;
  while (!publishes_.empty() && publishes_.front().replied) publishes_.pop_front();
  publish_replied_ = publishes_.empty() ? publish_sequence_ : publishes_.front().sequence - 1;
  if (closing_) return;
  const bool answered = reply != nullptr && reply->type == REDIS_REPLY_INTEGER;
  // Lost with the link, it may still have run (or run later, from the old connection): it waits
  // like a frame that reached a subscriber, and once the link is back the pod is asked.
  const bool unknown = reply == nullptr && sent;
  if ((answered && reply->integer > 0) || unknown) {  // the common case: wait for the receipt
    if (answered) {
      ++stats_.relayed_remote;
      if (!detours_.empty()) TellOverheard(publish.message);
    }
    std::optional<UnconfirmedFrames::Frame> lost =
        unconfirmed_.Published(publish.pod, publish.bucket, publish.stream_sequence,
                               {std::move(publish.message), std::move(publish.ref)}, Clock::now());
    if (lost) TellUnconfirmed({std::move(*lost)});
    if (!detours_.empty()) FinishDetours();
    return;
  }
  const std::optional<PodMessage> message = DecodePodMessage(publish.message);
  if (!answered) {
    TellSender(options_.pod_id, message->sender, message->target, Undeliverable::kUnavailable,
               publish.ref);
  } else {
    // Nobody listens on that pod's channel: it is dead. The route step will reap its entry and
    // queue the frame, in order with the frames sent after it.
    OpenDetour(message->target, {});
    detours_.AddUnheard(message->target,
                        HeldFrame{std::string(message->sender), std::string(message->frame),
                                  std::move(publish.ref), message->queue_if_absent});
  }
  if (!detours_.empty()) FinishDetours();
}

// A publish of `message` reached a subscriber after earlier ones to the same pod reached none:
// that pod subscribed again between them. Routing the same sender's earlier frames again would
// deliver them after this one, so the sender is told of them instead.
void RedisRegistry::TellOverheard(std::string_view message) {
  const std::optional<PodMessage> decoded = DecodePodMessage(message);
  for (HeldFrame& frame : detours_.TakeUnheard(decoded->target, decoded->sender)) {
    TellSender(options_.pod_id, frame.sender, decoded->target, Undeliverable::kUnavailable,
               frame.ref);
  }
}

// A direct PUBLISH must not overtake anything sent to the peer earlier. Frames held in a detour
// go out only when it ends, so learning during one is safe. But a lookup still on its way could
// be sent again after the PUBLISH (NOSCRIPT, see SendScriptCall): while lookups for the peer are
// on their way, newer frames wait in a detour until the last one is answered.
void RedisRegistry::LearnOwner(std::string_view peer, std::string_view pod) {
  if (pod == options_.pod_id || peers_.Find(peer) != nullptr) return;
  const std::string key(peer);
  if (registering_.contains(key) || owners_.Find(peer) != nullptr) return;
  // Frames of this pod's senders may wait in the peer's queue (a route step queued them while
  // Redis had no entry for it, as after its pod was reaped and before that pod claimed it
  // again): a PUBLISH straight to the pod would overtake them. Route steps keep the order (the
  // register step drains the queue first), until one finds the peer registered.
  if (queued_for_.contains(key)) return;
  if (lookups_in_flight_.contains(key)) {
    detours_.Open(peer, 0, Clock::now() + 2 * options_.alive_ttl);
    detours_.AwaitLookups(peer);
  }
  owners_.Learn(peer, pod);
}

void RedisRegistry::OpenDetour(std::string_view target, std::string_view fence_pod) {
  const OwnerCache::Entry stale = owners_.Forget(target);
  detours_.Open(target, stale.last_publish, Clock::now() + 2 * options_.alive_ttl);
  if (!fence_pod.empty() && detours_.AwaitFence(target, fence_pod)) SendFence(target, fence_pod);
}

void RedisRegistry::SendFence(std::string_view target_view, std::string_view pod_view) {
  std::string target(target_view);
  std::string pod(pod_view);
  auto answered = [this, target, pod](redisReply* reply) {
    // Nobody got the fence (that pod is gone, or so is the link): nothing more comes from it.
    const bool delivered =
        reply != nullptr && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    if (delivered || closing_) return;
    detours_.FenceAnswered(target, pod);
    FinishDetours();
  };
  if (!link_.Command({link_.publish_verb(), layout_.ChannelFor(target, pod),
                      EncodeFence(target, options_.pod_id)},
                     answered)) {
    answered(nullptr);
  }
}

void RedisRegistry::FinishDetours() {
  size_t expired = 0;
  std::vector<DetourTable::Ready> ready =
      detours_.TakeReady(publish_replied_, Clock::now(), &expired);
  if (expired > 0) {
    Log(true, "a pod did not answer a fence in time; routing the frames held for it again",
        std::to_string(expired));
  }
  for (DetourTable::Ready& detour : ready) {
    const std::string& target = detour.target;
    for (size_t i = 0; i < detour.frames.size(); ++i) {
      HeldFrame& held = detour.frames[i];
      RouteOwn(held.sender, target, held.frame, held.ref, held.queue_if_absent);
      // That frame went out as a lookup, whose answer will say where the target is: the rest
      // wait for it, and then cost one PUBLISH each instead of a lookup each.
      const bool more = i + 1 < detour.frames.size();
      if (more && lookups_in_flight_.contains(target) && !detours_.IsOpen(target)) {
        detours_.Open(target, 0, Clock::now() + 2 * options_.alive_ttl);
        detours_.AwaitLookups(target);
        for (size_t rest = i + 1; rest < detour.frames.size(); ++rest) {
          detours_.Hold(target, std::move(detour.frames[rest]));
        }
        break;
      }
    }
  }
}

void RedisRegistry::RouteThroughRedis(std::string_view sender_pod, std::string_view sender,
                                      std::string_view target, std::string_view frame,
                                      std::string_view ref, bool queue_if_absent) {
  if (!link_.up()) {
    TellSender(sender_pod, sender, target, Undeliverable::kUnavailable, ref);
    return;
  }
  const bool own = sender_pod == options_.pod_id;
  // The route step may queue the frame, so it is charged to its sender (queue_budget.h) before
  // Redis is asked: charged on the answer, every step on its way would pass on the same totals.
  // Past the budget the step may still deliver the frame, but not queue it; if the target is
  // absent, the sender is told. Frames routed on another pod's behalf were charged there.
  bool over_budget = false;
  if (own && queue_if_absent) {
    const Clock::time_point now = Clock::now();
    over_budget = !budget_.Allows(sender, frame.size(), now);
    if (over_budget) {
      queue_if_absent = false;
    } else {
      budget_.Charge(sender, frame.size(), now);
    }
  }
  ++stats_.owner_lookups;
  if (own) ++lookups_in_flight_[std::string(target)];
  const std::string expire_ms = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.expire).count());
  const std::string max_queued = std::to_string(options_.max_queued_per_peer);
  const int bucket = KeyLayout::BucketOf(target);
  const std::string deadline = std::to_string(link_.RunDeadlineMs());
  link_.RunScript(
      kRoute, {layout_.Peers(bucket), layout_.Queue(target), layout_.Tokens(bucket)},
      {layout_.BucketPrefix(bucket), target, sender_pod, sender, frame, expire_ms, max_queued,
       options_.pod_id, queue_if_absent ? "queue" : "drop", deadline},
      [this, own, over_budget, sender_pod = std::string(sender_pod), sender = std::string(sender),
       target = std::string(target), ref = std::string(ref)](redisReply* reply) {
        const std::string_view outcome = IsError(reply) ? "" : ReplyText(reply);
        if (own) {
          auto in_flight = lookups_in_flight_.find(target);
          const bool last = in_flight != lookups_in_flight_.end() && --in_flight->second == 0;
          if (last) lookups_in_flight_.erase(in_flight);
          if (outcome == "Q") {
            // The owner learnt while the lookup was on its way (from a frame of the peer, whose
            // pod serves him but has no entry in Redis yet) would send what follows straight
            // there, ahead of this frame in the queue.
            queued_for_.insert(target);
            owners_.Forget(target);
          }
          if (outcome.starts_with('R')) {
            queued_for_.erase(target);
            LearnOwner(target, outcome.substr(1));
          }
          if (last && detours_.IsOpen(target)) {
            detours_.LookupsDone(target);
            FinishDetours();
          }
        }
        if (outcome.starts_with('R')) {
          ++stats_.relayed_remote;
        } else if (outcome == "N") {  // the target is absent and the frame does not wait
          if (over_budget) {
            ++stats_.queue_rejected;
            TellSender(sender_pod, sender, target, Undeliverable::kPeerUnavailable, ref);
          }
        } else if (outcome == "Q") {
          ++stats_.queued;
          Track(sender_pod, sender, target, Clock::now() + options_.expire);
        } else if (outcome == "F") {
          ++stats_.queue_rejected;
          TellSender(sender_pod, sender, target, Undeliverable::kPeerUnavailable, ref);
        } else {
          // Lost with the link, refused, or run too late ("L": a frozen Redis thawed after this
          // pod gave up on it, so Redis did nothing).
          if (outcome == "L") ++stats_.late_dropped;
          TellSender(sender_pod, sender, target, Undeliverable::kUnavailable, ref);
        }
      });
}

}  // namespace switchboard::routing
