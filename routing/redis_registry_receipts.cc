// RedisRegistry: receipts between pods (delivery_receipts.h), and what a pod does after its own
// event loop stalled: it reads its backlog before giving up on any frame for want of a receipt.
#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

namespace {

// How often a pod sends the receipts it owes (delivery_receipts.h).
constexpr std::chrono::milliseconds kReceiptPeriod(250);

// How long a pod remembers the last number of a stream that sent nothing more: far longer than a
// connection given up on can still deliver late (delivery_receipts.h).
constexpr std::chrono::minutes kForgetStreamsAfter(10);

}  // namespace

// Once a second: sends the receipts owed (on each sending pod's channel of bucket 0), and tells the
// senders of frames that no receipt covered within the receipt timeout: the pod that Redis
// counted as subscribed never handled them.
void RedisRegistry::ExchangeReceipts(Clock::time_point now) {
  if (link_.up() && !receipts_owed_.empty() && now - receipts_sent_at_ >= kReceiptPeriod) {
    receipts_sent_at_ = now;
    for (const auto& [pod, receipts] : receipts_owed_.Take(now, kForgetStreamsAfter)) {
      link_.Command({link_.publish_verb(), layout_.Channel(0, pod),
                     EncodeReceipts(options_.pod_id, receipts)},
                    nullptr);
    }
  }
  if (unconfirmed_.size() == 0 || catching_up_count_ > 0) return;
  TellUnconfirmed(unconfirmed_.TakePublishedBefore(now - options_.receipt_timeout));
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
