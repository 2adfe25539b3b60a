// RedisRegistry: receipts between pods (delivery_receipts.h), and what a pod does after its own
// event loop stalled: it reads its backlog before giving up on any frame for want of a receipt.
#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

namespace {

// How often a pod sends the receipts it owes (delivery_receipts.h).
constexpr std::chrono::milliseconds kReceiptPeriod(250);

// A frame whose receipt is this late makes its pod ask the receiving pod how far it handled the
// stream (delivery_receipts.h); receipts normally come within kReceiptPeriod and a round trip.
constexpr std::chrono::milliseconds kAskAfter(1000);

// How long a pod remembers the last number of a stream that sent nothing more: far longer than a
// connection given up on can still deliver late (delivery_receipts.h).
constexpr std::chrono::minutes kForgetStreamsAfter(10);

}  // namespace

// Each tick: sends the receipts owed (on each sending pod's channel of bucket 0), asks about the
// streams whose receipts are late, and tells the senders of frames given up on: those of streams
// whose asks went unanswered for two receipt timeouts (the pod that Redis counted as subscribed
// is gone, or stalled, or cut off), and any published three timeouts ago (Redis was away for that
// long). A stalled pod drops its backlog well before either (OnStalled), so that it never
// delivers what its senders were told of.
void RedisRegistry::ExchangeReceipts(Clock::time_point now) {
  if (link_.up() && !receipts_owed_.empty() && now - receipts_sent_at_ >= kReceiptPeriod) {
    receipts_sent_at_ = now;
    for (const auto& [pod, receipts] : receipts_owed_.Take(now, kForgetStreamsAfter)) {
      link_.Command({link_.publish_verb(), layout_.Channel(0, pod),
                     EncodeReceipts(options_.pod_id, receipts)},
                    nullptr);
    }
  }
  if (unconfirmed_.size() == 0) return;
  if (link_.up()) SendAsks(unconfirmed_.TakeAsks(now, now - kAskAfter, /*all=*/false));
  if (catching_up_count_ > 0) return;
  TellUnconfirmed(unconfirmed_.TakeUnanswered(now - 2 * options_.receipt_timeout));
  TellUnconfirmed(unconfirmed_.TakePublishedBefore(now - 3 * options_.receipt_timeout));
}

void RedisRegistry::SendAsks(std::vector<UnconfirmedFrames::Ask> asks) {
  for (UnconfirmedFrames::Ask& ask : asks) {
    ++stats_.receipt_asks;
    auto ran = [this, pod = ask.pod, bucket = ask.bucket](redisReply* reply) {
      if (reply != nullptr && !closing_) unconfirmed_.AskRan(pod, bucket, Clock::now());
    };
    link_.Command({link_.publish_verb(), layout_.Channel(ask.bucket, ask.pod),
                   EncodeAsk(options_.pod_id, ask.bucket, ask.top)},
                  ran);
  }
}

void RedisRegistry::AnswerAsk(const PodMessage& ask) {
  if (ask.bucket >= KeyLayout::kBuckets) return;
  const std::vector<Receipt> handled =
      receipts_owed_.Ask(ask.pod, ask.bucket, ask.sequence, Clock::now());
  std::string answer = EncodeAnswer(options_.pod_id, ask.bucket, ask.sequence, handled);
  // On the stream's own channel of the asking pod, after any bounce of the stream's frames
  // this pod sent before it read the ask (Bounce): the answer never shows lost a frame whose
  // bounce is still on its way.
  std::string channel = layout_.Channel(ask.bucket, ask.pod);
  if (!link_.up()) {
    // Read on a subscription made before the link is whole: answered as soon as it is, before
    // any receipt (which, starting above what was asked about, would make those frames lost).
    unsent_["A" + std::string(ask.pod) + " " + std::to_string(ask.bucket)] = {std::move(channel),
                                                                              std::move(answer)};
    return;
  }
  link_.Command({link_.publish_verb(), std::move(channel), std::move(answer)}, nullptr);
}

void RedisRegistry::SendUnsent() {
  for (auto& [key, answer] : unsent_) {
    link_.Command({link_.publish_verb(), std::move(answer.first), std::move(answer.second)},
                  nullptr);
  }
  unsent_.clear();
}

// A pod whose event loop stalled (frozen, starved) has a backlog on its channels: frames, and
// receipts for what it published. Until it has read it (its own marker, published on each of
// its channels when it resumes, has come back on all of them), it gives up on no frame for want
// of a receipt, since the receipt may be in the backlog. And if the stall was longer than the
// other pods wait for a receipt, the frames in the backlog have been given up on by their
// senders' pods (or will be): it drops them rather than deliver them as well. Receipts then start
// new ranges, so the sending pods take what lies between for lost.
//
// The stall shows first either here, when the frames are read before the heartbeat timer runs,
// or in OnStalled, when the timer runs first.
bool RedisRegistry::InBacklogAfterStall(int bucket) {
  if (catching_up_count_ == 0) {
    const Clock::duration stalled = Clock::now() - link_.last_heartbeat_timer();
    if (stalled > 2 * options_.heartbeat) OnStalled(stalled);
  }
  return dropping_backlog_ && catching_up_[bucket];
}

void RedisRegistry::OnStalled(Clock::duration stalled) {
  if (catching_up_count_ > 0 || !link_.up()) return;
  backlog_nonce_ = options_.pod_id + "-" + std::to_string(++backlog_count_);
  catching_up_.assign(KeyLayout::kBuckets, true);
  catching_up_count_ = KeyLayout::kBuckets;
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    link_.Command({link_.publish_verb(), layout_.Channel(bucket, options_.pod_id),
                   EncodeBacklogMarker(bucket, backlog_nonce_)},
                  nullptr);
  }
  dropping_backlog_ = stalled > options_.heartbeat + options_.receipt_timeout - kReceiptPeriod;
  if (!dropping_backlog_) return;
  Log(true, "this pod stalled; dropping what it reads from before it resumed (senders told)",
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(stalled).count()) +
          " ms");
}

void RedisRegistry::TellUnconfirmed(std::vector<UnconfirmedFrames::Frame> frames) {
  for (UnconfirmedFrames::Frame& frame : frames) {
    ++stats_.unconfirmed;
    const std::optional<PodMessage> message = DecodePodMessage(frame.message);
    TellSender(options_.pod_id, message->sender, message->target, Undeliverable::kUnavailable,
               frame.ref);
  }
}

}  // namespace switchboard::routing
