// Where the Redis backend keeps what it shares: every key and channel name, for one prefix.
//
// The peer -> pod map is split into buckets, each of them a set of keys under one hash tag, so
// that on a Redis Cluster each bucket lives in one slot and the buckets spread over the shards.
// Everything about one peer (its entry, token, queue and release marker) and the channel its pod
// listens on for it live in the peer's bucket, so each step of redis_scripts.h touches one slot
// only and stays atomic. A pod therefore listens on one channel per bucket, and keeps one
// liveness key per bucket (the steps of a bucket ask whether a pod is alive there).
//
// The tags are chosen so that bucket n hashes into the n-th equal share of the slot range: a
// cluster made with `redis-cli --cluster create` gives each master a contiguous equal range, so
// the buckets, and the traffic of their peers, divide evenly among the masters. On a standalone
// server the tags are harmless and the layout is the same.
//
// Names, for prefix P and bucket tag T:
//   P:{T}:peers            hash   peer id -> owning pod
//   P:{T}:tokens           hash   peer id -> hash of its resume token
//   P:{T}:queue:<peer>     list   frames waiting for a peer nobody holds
//   P:{T}:released:<peer>  string the nonce of the peer's last release (short TTL)
//   P:{T}:pods             set    pods that have held peers of the bucket
//   P:{T}:pod:<pod>:peers  set    the pod's peers in the bucket
//   P:{T}:alive:<pod>      string with a TTL: the pod is alive
//   P:{T}:pod:<pod>        channel the pod listens on for frames to the bucket's peers
//   P:{T0}:loads           hash   pod -> "<deadline ms> <connections> <draining>" (bucket 0 only)
//
// Swarms (swarm_directory.h) are not in buckets: each swarm S is three keys under its own tag,
// so that its members spread over the shards with the swarms and each swarm's script runs on one
// slot:
//   P:{s:S}:members        zset   member routing key -> the Unix ms at which it lapses
//   P:{s:S}:complete       set    the members that have everything
//   P:{s:S}:downloaded     string "completed" announces counted
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing {

class KeyLayout {
 public:
  // The number of buckets. Every pod of a deployment must use the same layout.
  static constexpr int kBuckets = 64;

  explicit KeyLayout(std::string prefix);

  // The bucket of `peer`, in [0, kBuckets). Depends only on the peer's bytes.
  static int BucketOf(std::string_view peer);

  // "P:{T}" for bucket `bucket`: what every name of the bucket starts with. The scripts get it
  // and build the names they need from it (a pod's channel, its liveness key).
  const std::string& BucketPrefix(int bucket) const { return bucket_prefixes_[bucket]; }

  std::string Peers(int bucket) const;
  std::string Tokens(int bucket) const;
  std::string Pods(int bucket) const;
  std::string PodPeers(int bucket, std::string_view pod) const;
  std::string Alive(int bucket, std::string_view pod) const;
  std::string Channel(int bucket, std::string_view pod) const;
  std::string Queue(std::string_view peer) const;
  std::string Released(std::string_view peer) const;
  std::string Handed(std::string_view peer) const;
  // Every pod's load, for rebalancing (in bucket 0's slot).
  std::string Loads() const { return Name(0, "loads"); }

  // The keys of swarm `swarm` (members, complete, downloaded). The name must hold no brace, so
  // that the hash tag is the whole "s:<swarm>".
  std::array<std::string, 3> Swarm(std::string_view swarm) const;

  // The channel of `peer`'s bucket on which `pod` listens.
  std::string ChannelFor(std::string_view peer, std::string_view pod) const {
    return Channel(BucketOf(peer), pod);
  }

 private:
  std::string Name(int bucket, std::string_view suffix) const;

  std::string prefix_;
  std::vector<std::string> bucket_prefixes_;
};

// The hash tag of bucket `bucket` (without braces): a short text whose slot lies in the
// bucket's share of the slot range, [bucket * 16384 / kBuckets, (bucket + 1) * 16384 / kBuckets).
// The same on every pod.
std::string BucketTag(int bucket);

}  // namespace switchboard::routing
