// The Lua scripts that make each multi-key step of the Redis backend atomic. Loaded once per
// connection with SCRIPT LOAD, run with EVALSHA. docs/architecture.md walks through each one.
//
// Every script touches the keys of one bucket (key_layout.h) and nothing else, so that it runs
// on one Redis Cluster slot. ARGV[1] is always the bucket's prefix "P:{T}", from which a script
// names a pod's channel ("P:{T}:pod:<pod>"), its peers in the bucket ("P:{T}:pod:<pod>:peers")
// and its liveness key there ("P:{T}:alive:<pod>").
//
// The scripts that decide who gets a frame (route, requeue, expire) take a deadline in Unix ms
// (RedisLink::RunDeadlineMs) and do nothing past it by Redis' clock, answering "L" ({"LATE", 0}
// for expire): by then the pod that sent them has given up on its link and told the frame's
// sender, and a frozen Redis that thaws must not act on them after that.
#pragma once

#include <string_view>

namespace switchboard::routing::scripts {

// KEYS: peers, queue:<target>, tokens
// ARGV: bucket prefix, target, sender pod, sender, frame, expire ms, max queued, pod to treat as
// absent, "queue" or "drop" (what to do when the target is absent), deadline ms
// Publishes the frame to the owner's channel, or queues it. An owner with no subscriber (dead),
// or the pod named in ARGV[8] (the caller, which knows it does not hold the peer), loses its
// stale entry. Returns "R<owner pod>" (relayed), "Q" (queued), "F" (queue full, nothing done) or
// "N" (absent and ARGV[9] is "drop": nothing done), or "L" (past the deadline: nothing done).
extern const std::string_view kRoute;

// KEYS: peers, tokens, queue:<peer>, pod:<pod>:peers, released:<peer>, pods, handed:<peer>
// ARGV: bucket prefix, peer, pod, token hash ("" for none), the nonce of an earlier step whose
// reply was lost ("" for none), this step's nonce, handed TTL ms
// Claims the peer for the pod and hands over its queue in the same step; a pending release marker
// is deleted, so that frames from an earlier holder can no longer be put in front of the queue. A
// live owner on another pod is replaced only when the token hash matches (it is told with "R<peer>"
// on its channel). What it hands over is also kept, under this step's nonce, until the next step
// for the peer: a step whose reply was lost names its nonce, and gets those entries first.
// Returns {"TAKEN"} or {"OK"|"TOOK", handed-over entries...}.
extern const std::string_view kRegister;

// KEYS: peers, tokens, pod:<pod>:peers
// ARGV: peer, pod
// Removes the peer's entry only if it still names the pod.
extern const std::string_view kUnregister;

// KEYS: peers, tokens, pod:<pod>:peers, released:<peer>
// ARGV: bucket prefix, peer, pod, nonce, marker TTL ms
// Releases the peer if the pod holds it: deletes its entry, sets the release marker to the
// nonce, and publishes "X<peer> <nonce>" on the pod's own channel, so that the pod knows when it
// has received every frame published to it before the release. Returns 1, or 0 (not held:
// nothing released).
extern const std::string_view kRelease;

// KEYS: queue:<peer>, released:<peer>
// ARGV: nonce, expire ms, deadline ms, entries "<sender-pod> <sender> <frame>", oldest first
// Puts frames that reached the releasing pod after the release in front of the peer's queue, if
// the release marker still holds the nonce (nobody claimed the peer since). Returns "Q", or
// "MOVED" (claimed meanwhile: nothing done) or "L" (past the deadline: nothing done).
extern const std::string_view kRequeue;

// KEYS: queue:<target>
// ARGV: sender, deadline ms
// If the sender's oldest queued frame for the target is past its deadline, drops all of the
// sender's frames for it. Returns {"EXPIRED", count}, {"WAIT", ms until that deadline} or
// {"GONE", 0} when none of the sender's frames are left (they were delivered), or {"LATE", 0}
// (past the deadline: nothing done).
extern const std::string_view kExpire;

// KEYS: pods, peers, tokens
// ARGV: bucket prefix, the calling pod
// Removes the bucket's entries of every pod whose liveness key there has expired or whose channel
// there has no subscriber. Returns the number of peer entries removed.
extern const std::string_view kReap;

// KEYS: loads
// ARGV: the calling pod, its load ("<connections> <draining>"), ttl ms
// Sets the pod's entry to expire at Redis' time + ttl, drops the entries past their time, and
// returns the others as {pod, load, pod, load...}, the caller's included.
extern const std::string_view kLoads;

}  // namespace switchboard::routing::scripts
