#include "routing/key_layout.h"

#include <utility>

#include "routing/cluster_slot.h"

namespace switchboard::routing {

std::string BucketTag(int bucket) {
  const int first = bucket * kClusterSlotCount / KeyLayout::kBuckets;
  const int end = (bucket + 1) * kClusterSlotCount / KeyLayout::kBuckets;
  // CRC16 spreads short texts evenly, so a few hundred tries find one for any share.
  for (int attempt = 0;; ++attempt) {
    std::string tag = std::to_string(bucket) + "." + std::to_string(attempt);
    const int slot = KeySlot(tag);
    if (slot >= first && slot < end) return tag;
  }
}

KeyLayout::KeyLayout(std::string prefix) : prefix_(std::move(prefix)) {
  bucket_prefixes_.reserve(kBuckets);
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    bucket_prefixes_.push_back(prefix_ + ":{" + BucketTag(bucket) + "}");
  }
}

std::array<std::string, 3> KeyLayout::Swarm(std::string_view swarm) const {
  const std::string tag = prefix_ + ":{s:" + std::string(swarm) + "}:";
  return {tag + "members", tag + "complete", tag + "downloaded"};
}

int KeyLayout::BucketOf(std::string_view peer) { return Crc16Xmodem(peer) % kBuckets; }

std::string KeyLayout::Name(int bucket, std::string_view suffix) const {
  std::string name;
  name.reserve(bucket_prefixes_[bucket].size() + 1 + suffix.size());
  name.append(bucket_prefixes_[bucket]).append(":").append(suffix);
  return name;
}

std::string KeyLayout::Peers(int bucket) const { return Name(bucket, "peers"); }
std::string KeyLayout::Tokens(int bucket) const { return Name(bucket, "tokens"); }
std::string KeyLayout::Pods(int bucket) const { return Name(bucket, "pods"); }

std::string KeyLayout::PodPeers(int bucket, std::string_view pod) const {
  return Name(bucket, "pod:" + std::string(pod) + ":peers");
}

std::string KeyLayout::Alive(int bucket, std::string_view pod) const {
  return Name(bucket, "alive:" + std::string(pod));
}

std::string KeyLayout::Channel(int bucket, std::string_view pod) const {
  return Name(bucket, "pod:" + std::string(pod));
}

std::string KeyLayout::Queue(std::string_view peer) const {
  return Name(BucketOf(peer), "queue:" + std::string(peer));
}

std::string KeyLayout::Released(std::string_view peer) const {
  return Name(BucketOf(peer), "released:" + std::string(peer));
}

std::string KeyLayout::Handed(std::string_view peer) const {
  return Name(BucketOf(peer), "handed:" + std::string(peer));
}

}  // namespace switchboard::routing
