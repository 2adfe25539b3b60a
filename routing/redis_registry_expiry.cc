// RedisRegistry: frames queued in Redis for an absent peer. The sender's pod checks, once the
// oldest may have expired, whether the queue still holds them, and tells its sender once per
// (sender, target) if they expired.
#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

void RedisRegistry::Track(std::string_view sender_pod, std::string_view sender,
                          std::string_view target, Clock::time_point check_at) {
  expiry_.Track({std::string(sender_pod), std::string(sender), std::string(target)}, check_at);
}

void RedisRegistry::CheckExpiry(ExpiryTracker::Pair pair) {
  auto again_in = [this](const ExpiryTracker::Pair& pair, std::chrono::milliseconds delay) {
    expiry_.Finished(pair);
    expiry_.Track(pair, Clock::now() + delay);
  };
  if (!link_.up()) {  // ask again once Redis is back
    again_in(pair, std::chrono::milliseconds(500));
    return;
  }
  link_.RunScript(
      kExpire, {layout_.Queue(pair.target)}, {pair.sender, std::to_string(link_.RunDeadlineMs())},
      [this, pair, again_in](redisReply* reply) {
        if (closing_) return;
        if (IsError(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
          again_in(pair, std::chrono::milliseconds(500));
          return;
        }
        const std::string_view status = ReplyText(reply->element[0]);
        const long long value = reply->element[1]->integer;
        if (status == "LATE") {  // Redis ran it after this pod gave up on its link
          again_in(pair, std::chrono::milliseconds(500));
          return;
        }
        if (status == "WAIT") {
          again_in(pair, std::chrono::milliseconds(value + 1));
          return;
        }
        expiry_.Finished(pair);
        // Nothing of this pod's senders waits for the target any more (delivered or expired).
        if (!expiry_.HasTarget(pair.target)) queued_for_.erase(pair.target);
        if (status == "EXPIRED") {
          stats_.expired += static_cast<uint64_t>(value);
          TellSender(pair.sender_pod, pair.sender, pair.target, Undeliverable::kPeerUnavailable,
                     {});
        }
      });
}

}  // namespace switchboard::routing
