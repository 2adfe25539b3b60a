// RedisRegistry: a peer that left this pod. The release step gives its id back and publishes
// a marker on this pod's channel; what arrives for the peer until the marker comes back was
// published before the release, and goes in front of the peer's queue (the requeue step), or
// back to the senders' pods if someone claimed the peer meanwhile.
#include <utility>

#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

namespace {

// How long a release marker waits in Redis for the frames that reached the releasing pod after
// the release: they are put in front of the queue only within it, and their senders are told
// otherwise.
constexpr std::chrono::milliseconds kReleaseMarkerTtl(10000);

}  // namespace

// `unsent`: what the peer's connection left unwritten, older than anything that arrives for the
// peer after this, so first in front of its queue.
void RedisRegistry::SendRelease(const std::string& peer, std::vector<Held> unsent) {
  if (!link_.up()) {
    SendUnregister(peer);  // remembered for OnUp()
    TellHeld(peer, unsent, Undeliverable::kUnavailable);
    return;
  }
  releasing_[peer] = Releasing{};
  releasing_[peer].frames = std::move(unsent);
  StartRelease(peer);
}

void RedisRegistry::StartRelease(const std::string& peer) {
  Releasing& releasing = releasing_[peer];
  releasing.nonce = options_.pod_id + "-" + std::to_string(++release_count_);
  const int bucket = KeyLayout::BucketOf(peer);
  link_.RunScript(
      kRelease,
      {layout_.Peers(bucket), layout_.Tokens(bucket), layout_.PodPeers(bucket, options_.pod_id),
       layout_.Released(peer)},
      {layout_.BucketPrefix(bucket), peer, options_.pod_id, releasing.nonce,
       std::to_string(kReleaseMarkerTtl.count())},
      [this, peer, nonce = releasing.nonce](redisReply* reply) {
        // Released: OnReleased() takes it from here. No answer: OnUp() starts again.
        if (reply == nullptr || (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)) {
          return;
        }
        // Not held here after all (reaped, or taken over): no marker comes.
        FinishRelease(peer, nonce, /*requeued=*/false);
      });
}

// Every frame published to this pod before the release step ran has arrived: those that came
// for the peer since go in front of its queue, unless someone claimed it meanwhile (then newer
// frames may have reached it already, and they go back to their senders' pods instead).
void RedisRegistry::OnReleased(std::string_view peer, std::string_view nonce) {
  auto it = releasing_.find(std::string(peer));
  if (it == releasing_.end() || it->second.nonce != nonce || it->second.requeueing) return;
  it->second.requeueing = true;
  SendRequeue(it->first);
}

void RedisRegistry::SendRequeue(const std::string& peer) {
  Releasing& releasing = releasing_[peer];
  std::erase_if(releasing.frames, [](const Held& held) { return !held.queue_if_absent; });
  if (releasing.frames.empty()) {
    FinishRelease(peer, releasing.nonce, /*requeued=*/true);
    return;
  }
  const std::string expire_ms = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.expire).count());
  std::vector<std::string> entries;
  entries.reserve(releasing.frames.size());
  for (const Held& held : releasing.frames) {
    entries.push_back(held.sender_pod + " " + held.sender + " " + held.frame);
  }
  const std::string deadline = std::to_string(link_.RunDeadlineMs());
  std::vector<std::string_view> args = {releasing.nonce, expire_ms, deadline};
  args.insert(args.end(), entries.begin(), entries.end());
  link_.RunScript(kRequeue, {layout_.Queue(peer), layout_.Released(peer)}, args,
                  [this, peer, nonce = releasing.nonce](redisReply* reply) {
                    if (reply == nullptr) return;  // OnUp() sends it again
                    FinishRelease(peer, nonce, !IsError(reply) && ReplyText(reply) == "Q");
                  });
}

// After the link came back: a release whose marker may have been lost with the subscription is
// run again (a fresh nonce; if Redis no longer names this pod, its frames go back to their
// senders' pods), and a requeue that got no answer is sent again (after a restart its nonce is
// gone, so the frames go back too).
void RedisRegistry::ResumeReleases() {
  std::vector<std::pair<std::string, bool>> releases;
  for (const auto& [peer, releasing] : releasing_)
    releases.emplace_back(peer, releasing.requeueing);
  for (const auto& [peer, requeueing] : releases) {
    if (requeueing) {
      SendRequeue(peer);
    } else {
      StartRelease(peer);
    }
  }
}

// Ends a release: the frames held for the peer were put in front of its queue (`requeued`), or
// go back to their senders' pods, which route them again in order; so do the frames that came
// while the requeue step ran. Fences that came meanwhile are answered after them.
void RedisRegistry::FinishRelease(const std::string& peer, const std::string& nonce,
                                  bool requeued) {
  auto it = releasing_.find(peer);
  if (it == releasing_.end() || it->second.nonce != nonce) return;
  Releasing releasing = std::move(it->second);
  releasing_.erase(it);
  if (requeued) {
    stats_.queued += releasing.frames.size();
    for (const Held& held : releasing.frames) {
      Track(held.sender_pod, held.sender, peer, Clock::now() + options_.expire);
    }
  } else {
    for (const Held& held : releasing.frames) BounceHeld(peer, held);
  }
  for (const Held& held : releasing.after) BounceHeld(peer, held);
  for (const std::string& pod : releasing.fences) AnswerFence(peer, pod);
}

}  // namespace switchboard::routing
