// What the files of RedisRegistry share and nobody else sees: the records of peers and frames
// in transit between this pod and Redis, the scripts' indexes, and the reply helpers.
//
// RedisRegistry is one class, because its parts act on the same peers and frames under one rule
// (a frame for a peer waits, in order, wherever the peer's state is not settled); its methods
// are split by concept over files named after it:
//   redis_registry.cc              the link coming and going, liveness, reaping, the tick
//   redis_registry_claims.cc       registering and unregistering peers, handing over queues
//   redis_registry_releases.cc     a peer that left: what still arrives for it
//   redis_registry_routing.cc      this pod's senders' frames: owner cache, PUBLISH, detours
//   redis_registry_pod_messages.cc what other pods send on this pod's channels
//   redis_registry_receipts.cc     receipts between pods, and a stalled pod's backlog
//   redis_registry_expiry.cc       telling senders of queued frames that expired
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/redis_registry.h"

namespace switchboard::routing {

// Indexes into the scripts the link loads (redis_scripts.h), in this order.
enum RegistryScript {
  kRoute,
  kRegister,
  kUnregister,
  kRelease,
  kRequeue,
  kExpire,
  kReap,
  kLoads,
  kSwarmAnnounce,  // redis_swarm_scripts.h
  kSwarmLeave,
  kSwarmCounts,
};

inline std::string_view ReplyText(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

inline bool IsError(const redisReply* reply) {
  return reply == nullptr || reply->type == REDIS_REPLY_ERROR;
}

// A frame that arrived for a peer whose registration is still on its way to Redis: it is
// delivered after the queue Redis hands back, so that order holds.
struct RedisRegistry::Held {
  std::string sender_pod;
  std::string sender;
  std::string frame;
  bool queue_if_absent = true;  // if it must be routed again and the peer is gone: queue it?
  bool from_channel = false;    // came on this pod's channel (not from a local sender)
};

// What a register step answered, read out of its reply ({status, marker subscribers, queue...}).
struct RedisRegistry::ClaimAnswer {
  enum class Status {
    kLost,      // no reply: the link went; the step may have run
    kFailed,    // an error reply: Redis refused the write; no claim
    kTaken,     // another pod holds the id, alive, with another token
    kClaimed,   // the id is this pod's
    kTookOver,  // the id is this pod's, taken from a live pod with the same token
  };
  Status status = Status::kLost;
  bool marked = false;      // the step's marker reached a subscriber (this pod)
  std::vector<Held> queue;  // what it handed over, oldest first
};

// A connection waiting for an abandoned claim to give the id back (see WaitForAbandonedClaim).
struct RedisRegistry::Successor {
  PeerConnection* connection;
  std::string token;
  RegisterCallback done;
};

// A peer's claim, from its register step's sending until the step's reply (and, for a claim
// made again, its marker) is back.
//
// The peer's frames wait here, and the order they go out in is what this is for. The queue the
// step hands over is older than what a local sender sends meanwhile, and older than what other
// pods publish here after the step. When this pod claims a peer it serves already (Reclaim: the
// link came back, or its liveness key lapsed), another pod may also have published here *before*
// the step (to the pod its cache named), and then queued a later frame when its route step found
// no entry for the peer (this pod's was reaped while Redis froze): such a frame arrives here
// while the claim is on its way, and belongs before the queue. So the step publishes a marker on
// this pod's channel of the peer's bucket; Redis orders a channel, so in a claim made again the
// frames that came on it before the marker go before the queue, the rest after. (Not in a first
// claim: its queue may hold frames this pod gave back itself, after newer ones were published
// here, as when a claim was abandoned; and no pod publishes to a pod for a peer it never held.)
struct RedisRegistry::Registering {
  PeerConnection* connection;  // nullptr once abandoned: the connection left before the reply
  std::string token;
  RegisterCallback done;
  RegisterResult local_result;  // kTookOver if a local holder of the id was evicted for it
  std::vector<Held> held;
  std::optional<Successor> successor;  // only on an abandoned claim
  // Frames that reached this pod after it released the peer and before the peer came back here:
  // older than anything in the peer's queue, so delivered first.
  std::vector<Held> before_queue;
  std::string nonce;     // the register step's, under which Redis keeps what it handed over
  bool reclaim = false;  // the peer was served here already (see above)
  bool marker_seen = false;
  size_t held_before_marker = 0;      // held[0, n) was held when the marker came
  std::optional<ClaimAnswer> answer;  // the reply, when it came before the marker
};

// A peer this pod released, until its release marker comes back: what arrived for it meanwhile.
struct RedisRegistry::Releasing {
  std::string nonce;
  bool requeueing = false;          // the marker came back; the requeue step is on its way
  std::vector<Held> frames;         // came before the marker
  std::vector<Held> after;          // came while the requeue step ran
  std::vector<std::string> fences;  // pods whose fence came meanwhile, answered at the end
};

// A PUBLISH of a frame to the pod the owner cache named, until Redis answers how many pods got it.
struct RedisRegistry::Publish {
  uint64_t sequence;
  std::string message;  // the pod message: what to route again if nobody got it
  std::string ref;
  std::string pod;               // where it went
  int bucket = 0;                // the target's
  uint64_t stream_sequence = 0;  // its number in the receipt stream to that pod and bucket
  bool replied = false;
};

}  // namespace switchboard::routing
