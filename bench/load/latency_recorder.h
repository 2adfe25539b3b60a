// A latency histogram with bounded memory and about 1% precision, for the load generator.
//
// The generator records the latency of every message of a run, millions of them, and reports
// percentiles up to p99.9 and the maximum. Keeping every sample would grow without bound, and
// Prometheus-style fixed buckets (routing/latency_histogram.h) are far too coarse for a p99.9.
// So values are counted in log-linear buckets, as HdrHistogram does: each power of two from
// 1 µs up is split into kSubBuckets equal parts, which bounds the relative error of any
// reported value by 1/kSubBuckets. Debian packages no C or C++ HdrHistogram, hence this file.
#pragma once

#include <array>
#include <cstdint>

namespace switchboard::bench {

class LatencyRecorder {
 public:
  static constexpr int kSubBuckets = 128;
  static constexpr int kPowers = 40;  // covers up to 2^46 ns (19 hours); above is clamped

  // Counts one latency, in nanoseconds. Negative values count as 0.
  void Record(int64_t nanoseconds);

  // Adds every count of `other` to this one.
  void Merge(const LatencyRecorder& other);

  // Forgets every value recorded so far.
  void Reset();

  uint64_t count() const { return count_; }

  // The largest value recorded, exactly; 0 when empty.
  int64_t max() const { return max_; }

  // The value at quantile `q` (0..1): an upper bound, within 1/kSubBuckets, of the value below
  // which a fraction q of the recorded values lie. Never above max(). 0 when empty.
  int64_t Quantile(double q) const;

 private:
  static int BucketOf(int64_t nanoseconds);
  static int64_t UpperBoundOf(int bucket);

  std::array<uint64_t, kPowers * kSubBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace switchboard::bench
