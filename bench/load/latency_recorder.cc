#include "bench/load/latency_recorder.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace switchboard::bench {

namespace {
constexpr int kSubBucketBits =
    std::countr_zero(static_cast<unsigned>(LatencyRecorder::kSubBuckets));
}  // namespace

// Values below kSubBuckets ns land in power 0, one bucket per nanosecond. Above, a value with its
// highest bit at position p (p >= kSubBucketBits) lands in power p - kSubBucketBits + 1, and its
// next kSubBucketBits bits below the highest pick the sub-bucket.
int LatencyRecorder::BucketOf(int64_t nanoseconds) {
  const auto value = static_cast<uint64_t>(std::max<int64_t>(nanoseconds, 0));
  if (value < static_cast<uint64_t>(kSubBuckets)) return static_cast<int>(value);
  const int highest_bit = 63 - std::countl_zero(value);
  const int power = highest_bit - kSubBucketBits + 1;
  if (power >= kPowers) return kPowers * kSubBuckets - 1;
  const int sub = static_cast<int>((value >> (highest_bit - kSubBucketBits)) & (kSubBuckets - 1));
  return power * kSubBuckets + sub;
}

int64_t LatencyRecorder::UpperBoundOf(int bucket) {
  const int power = bucket / kSubBuckets;
  const int64_t sub = bucket % kSubBuckets;
  if (power == 0) return sub;
  const int shift = power - 1;
  return ((kSubBuckets + sub + 1) << shift) - 1;
}

void LatencyRecorder::Record(int64_t nanoseconds) {
  ++counts_[BucketOf(nanoseconds)];
  ++count_;
  max_ = std::max(max_, nanoseconds);
}

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

void LatencyRecorder::Reset() { *this = LatencyRecorder(); }

int64_t LatencyRecorder::Quantile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<uint64_t>(
      std::max(1.0, std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen < rank) continue;
    if (i + 1 == counts_.size()) return max_;  // the bucket values above the range are clamped into
    return std::min(UpperBoundOf(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace switchboard::bench
