// The Lua scripts that make each multi-key step of the Redis backend atomic. Loaded once per
// connection with SCRIPT LOAD, run with EVALSHA. docs/architecture.md walks through each one.
//
// Keys, for prefix P (--redis-prefix):
//   P:peers              hash  peer id -> owning pod
//   P:tokens             hash  peer id -> SHA-1 of its resume token (absent without a token)
//   P:pod:<pod>          channel the pod subscribes to (and nothing else)
//   P:pod:<pod>:peers    set   the pod's peers, so a dead pod's entries are found without a scan
//   P:alive:<pod>        string with a TTL, refreshed by the pod while it lives
//   P:pods               set   pods that have announced themselves
//   P:queue:<peer>       list  frames waiting for a peer nobody holds (pod_message.h)
//   P:released:<peer>    string, short TTL: the nonce of the peer's last release, until it is
//                        claimed again (see kRelease)
#pragma once

#include <string_view>

namespace switchboard::routing::scripts {

// KEYS: P:peers, P:queue:<target>, P:tokens
// ARGV: P, target, sender pod, sender, frame, expire ms, max queued, pod to treat as absent,
//       "queue" or "drop" (what to do when the target is absent)
// Publishes the frame to the owner's channel, or queues it. An owner with no subscriber (dead),
// or the pod named in ARGV[8] (the caller, which knows it does not hold the peer), loses its
// stale entry. Returns "R<owner pod>" (relayed), "Q" (queued), "F" (queue full, nothing done) or
// "N" (absent and ARGV[9] is "drop": nothing done).
extern const std::string_view kRoute;

// KEYS: P:peers, P:tokens, P:queue:<peer>, P:pod:<pod>:peers, P:released:<peer>
// ARGV: P, peer, pod, token hash ("" for none)
// Claims the peer for the pod and hands over its queue in the same step; a pending release marker
// is deleted, so that frames from an earlier holder can no longer be put in front of the queue. A
// live owner on another pod is replaced only when the token hash matches (it is told with "R<peer>"
// on its channel). Returns {"TAKEN"} or {"OK"|"TOOK", queued entries...}.
extern const std::string_view kRegister;

// KEYS: P:peers, P:tokens, P:pod:<pod>:peers
// ARGV: peer, pod
// Removes the peer's entry only if it still names the pod.
extern const std::string_view kUnregister;

// KEYS: P:peers, P:tokens, P:pod:<pod>:peers, P:released:<peer>
// ARGV: P, peer, pod, nonce, marker TTL ms
// Releases the peer if the pod holds it: deletes its entry, sets the release marker to the
// nonce, and publishes "X<peer> <nonce>" on the pod's own channel, so that the pod knows when it
// has received every frame published to it before the release. Returns 1, or 0 (not held:
// nothing released).
extern const std::string_view kRelease;

// KEYS: P:queue:<peer>, P:released:<peer>
// ARGV: nonce, expire ms, entries "<sender-pod> <sender> <frame>", oldest first
// Puts frames that reached the releasing pod after the release in front of the peer's queue, if
// the release marker still holds the nonce (nobody claimed the peer since). Returns "Q", or
// "MOVED" (claimed meanwhile: nothing done).
extern const std::string_view kRequeue;

// KEYS: P:queue:<target>
// ARGV: sender
// If the sender's oldest queued frame for the target is past its deadline, drops all of the
// sender's frames for it. Returns {"EXPIRED", count}, {"WAIT", ms until that deadline} or
// {"GONE", 0} when none of the sender's frames are left (they were delivered).
extern const std::string_view kExpire;

// KEYS: P:pods, P:peers, P:tokens
// ARGV: P, the calling pod
// Removes the entries of every pod whose liveness key has expired or whose channel has no
// subscriber. Returns the number of peer entries removed.
extern const std::string_view kReap;

}  // namespace switchboard::routing::scripts
