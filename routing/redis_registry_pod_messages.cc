// RedisRegistry: what other pods publish on this pod's channels (pod_message.h): frames for its
// peers, frames handed back, fences and their answers, release markers, receipts, expiry notices.
#include <utility>

#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

void RedisRegistry::OnPodMessage(std::string_view bytes) {
  const std::optional<PodMessage> message = DecodePodMessage(bytes);
  if (!message) {
    Log(true, "ignored a malformed message on the pod channel", bytes.substr(0, 64));
    return;
  }
  switch (message->kind) {
    case PodMessage::Kind::kDeliver:
      OnDeliverMessage(*message);
      return;
    case PodMessage::Kind::kBounce:
      // A frame one of this pod's senders sent to a pod that does not hold its target: route it
      // again once that pod has handed back everything sent to it before the fence. Unless its
      // sender was told already: Redis ran the bounce late.
      if (message->sequence > 0 &&
          !unconfirmed_.Returned(message->pod, KeyLayout::BucketOf(message->target),
                                 message->sequence)) {
        ++stats_.late_dropped;
        return;
      }
      if (!detours_.IsOpen(message->target)) OpenDetour(message->target, {});
      if (detours_.AwaitFence(message->target, message->pod)) {
        SendFence(message->target, message->pod);
      }
      detours_.AddReturned(message->target, HeldFrame{std::string(message->sender),
                                                      std::string(message->frame),
                                                      {},
                                                      message->queue_if_absent});
      return;
    case PodMessage::Kind::kFence: {
      // Everything that pod sent before the fence has been handled (delivered or bounced), unless
      // a release still holds some: then the answer follows them (FinishRelease).
      bouncing_.erase(std::string(message->pod) + " " + std::string(message->target));
      auto released = releasing_.find(std::string(message->target));
      if (released != releasing_.end()) {
        released->second.fences.emplace_back(message->pod);
      } else {
        AnswerFence(message->target, message->pod);
      }
      return;
    }
    case PodMessage::Kind::kFenceAnswer:
      detours_.FenceAnswered(message->target, message->pod);
      FinishDetours();
      return;
    case PodMessage::Kind::kReleased:
      OnReleased(message->target, message->nonce);
      return;
    case PodMessage::Kind::kClaimed:
      OnClaimMarker(message->target, message->nonce);
      return;
    case PodMessage::Kind::kReplaced:
      if (const PeerTable::Entry* holder = peers_.Find(message->target)) {
        PeerConnection* connection = holder->connection;
        peers_.EraseIfHeldBy(message->target, connection);
        connection->Evict(Eviction::kReplaced);
      }
      return;
    case PodMessage::Kind::kReceipts: {
      const std::optional<std::vector<Receipt>> receipts = DecodeReceipts(message->receipts);
      for (const Receipt& receipt : *receipts) {
        unconfirmed_.Confirm(message->pod, receipt);
      }
      return;
    }
    case PodMessage::Kind::kAsk:
      AnswerAsk(*message);
      return;
    case PodMessage::Kind::kAnswer: {
      std::vector<Receipt> handled;
      if (!message->receipts.empty()) handled = *DecodeReceipts(message->receipts);
      TellUnconfirmed(
          unconfirmed_.Answered(message->pod, message->bucket, message->sequence, handled));
      return;
    }
    case PodMessage::Kind::kBacklogMarker:
      if (message->nonce == backlog_nonce_ && message->bucket < KeyLayout::kBuckets &&
          catching_up_[message->bucket]) {
        catching_up_[message->bucket] = false;
        --catching_up_count_;
      }
      return;
    case PodMessage::Kind::kExpired:
      if (PeerConnection* sender = LocalSender(message->sender)) {
        sender->NotifyUndeliverable(message->target, Undeliverable::kPeerUnavailable, {});
      }
      return;
  }
}

void RedisRegistry::OnDeliverMessage(const PodMessage& message) {
  ++stats_.received_remote;
  // Whatever happens to it below, this pod has it now: the sender's pod may stop waiting.
  if (message.sequence > 0) {
    const int bucket = KeyLayout::BucketOf(message.target);
    if (InBacklogAfterStall(bucket)) {
      ++stats_.stale_dropped;
      return;
    }
    if (!receipts_owed_.Handled(message.sender_pod, bucket, message.sequence, Clock::now())) {
      ++stats_.late_dropped;  // its sender's pod gave up on it, and told its sender
      return;
    }
  }
  if (!bouncing_.empty() &&
      bouncing_.contains(std::string(message.sender_pod) + " " + std::string(message.target))) {
    Bounce(message);
    return;
  }
  if (const PeerTable::Entry* target = peers_.Find(message.target)) {
    Deliver(target->connection, message.frame, FrameOrigin{message.sender_pod, message.sender});
    // Who sent it is on that pod: an answer costs one PUBLISH.
    if (!owners_.Find(message.sender)) LearnOwner(message.sender, message.sender_pod);
    return;
  }
  const std::string target(message.target);
  Held held{std::string(message.sender_pod), std::string(message.sender),
            std::string(message.frame), message.queue_if_absent};
  if (auto it = registering_.find(target); it != registering_.end()) {
    held.from_channel = true;
    it->second->held.push_back(std::move(held));
  } else if (auto released = releasing_.find(target); released != releasing_.end()) {
    (released->second.requeueing ? released->second.after : released->second.frames)
        .push_back(std::move(held));
  } else {
    Bounce(message);
  }
}

// A numbered frame handed back gets no receipt: the bounce, which carries its number, settles it
// at its sender's pod instead. Counted as handled, it would be confirmed even if the bounce were
// lost (this pod's link lost before Redis ran it, or the sender pod's subscription before it read
// it), and nobody would tell its sender; with a hole in the receipts, that pod keeps the frame
// until the bounce comes, or asks, and the answer (after the bounce, on the same channel) shows
// it unhandled.
void RedisRegistry::Bounce(const PodMessage& message) {
  if (message.sequence > 0) {
    receipts_owed_.Unhandle(message.sender_pod, KeyLayout::BucketOf(message.target),
                            message.sequence);
  }
  BounceHeld(message.target,
             Held{std::string(message.sender_pod), std::string(message.sender),
                  std::string(message.frame), message.queue_if_absent},
             message.sequence);
}

void RedisRegistry::BounceHeld(std::string_view target, const Held& held, uint64_t sequence) {
  ++stats_.bounced;
  if (bouncing_.emplace(held.sender_pod + " " + std::string(target), Clock::now()).second &&
      peers_.Find(target) == nullptr) {
    // If Redis still names this pod as the target's owner (the route step sent the frame here),
    // correct it, before the sender's pod routes the frame again.
    SendUnregister(std::string(target));
  }
  if (!link_.up()) return;  // the sender's pod treats the lost link as a failure of what it sent
  link_.Command({link_.publish_verb(), layout_.ChannelFor(target, held.sender_pod),
                 EncodeBounce(target, options_.pod_id, held.sender, held.frame,
                              held.queue_if_absent, sequence)},
                nullptr);
}

void RedisRegistry::AnswerFence(std::string_view target, std::string_view pod) {
  if (!link_.up()) return;
  link_.Command({link_.publish_verb(), layout_.ChannelFor(target, pod),
                 EncodeFenceAnswer(target, options_.pod_id)},
                nullptr);
}

PeerConnection* RedisRegistry::LocalSender(std::string_view peer) const {
  if (const PeerTable::Entry* entry = peers_.Find(peer)) return entry->connection;
  auto claim = registering_.find(std::string(peer));
  return claim == registering_.end() ? nullptr : claim->second->connection;
}

void RedisRegistry::TellSender(std::string_view sender_pod, std::string_view sender,
                               std::string_view target, Undeliverable reason,
                               std::string_view ref) {
  if (sender_pod == options_.pod_id) {
    if (PeerConnection* connection = LocalSender(sender)) {
      connection->NotifyUndeliverable(target, reason, ref);
    }
    return;
  }
  // A sender on another pod: its pod let go of the frame (this pod queued it, or routes it on that
  // pod's behalf: held for a claim that failed), so only this pod can tell it, with an expiry
  // notice ("peer-unavailable" without a ref, which only its pod knew); once the link is back if
  // it is down.
  std::string channel = layout_.ChannelFor(target, sender_pod);
  std::string notice = EncodeExpired(sender, target);
  if (!link_.up()) {
    if (unsent_.size() < kUnsentKept) {
      unsent_.try_emplace("E" + std::string(sender_pod) + " " + notice, std::move(channel),
                          std::move(notice));
    }
    return;
  }
  link_.Command({link_.publish_verb(), std::move(channel), std::move(notice)}, nullptr);
}

}  // namespace switchboard::routing
