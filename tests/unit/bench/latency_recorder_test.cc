#include "bench/load/latency_recorder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace switchboard::bench {
namespace {

TEST(LatencyRecorderTest, EmptyReportsZero) {
  LatencyRecorder recorder;
  EXPECT_EQ(recorder.count(), 0u);
  EXPECT_EQ(recorder.max(), 0);
  EXPECT_EQ(recorder.Quantile(0.5), 0);
}

TEST(LatencyRecorderTest, SmallValuesAreExact) {
  LatencyRecorder recorder;
  for (int64_t v = 1; v <= 100; ++v) recorder.Record(v);
  EXPECT_EQ(recorder.count(), 100u);
  EXPECT_EQ(recorder.Quantile(0.5), 50);
  EXPECT_EQ(recorder.Quantile(0.99), 99);
  EXPECT_EQ(recorder.Quantile(1.0), 100);
  EXPECT_EQ(recorder.max(), 100);
}

// Against the exact quantiles of a sorted copy: never below the true value, and above it by at
// most 1/kSubBuckets of it.
TEST(LatencyRecorderTest, QuantilesAreWithinThePromisedPrecision) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(11.0, 1.5);  // around 60 µs, long tail
  LatencyRecorder recorder;
  std::vector<int64_t> values;
  for (int i = 0; i < 200000; ++i) {
    const auto v = static_cast<int64_t>(latency(random));
    values.push_back(v);
    recorder.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
    const int64_t exact = values[rank];
    const int64_t reported = recorder.Quantile(q);
    EXPECT_GE(reported, exact) << q;
    EXPECT_LE(reported - exact, exact / LatencyRecorder::kSubBuckets + 1) << q;
  }
  EXPECT_EQ(recorder.max(), values.back());
}

TEST(LatencyRecorderTest, HugeAndNegativeValuesAreClamped) {
  LatencyRecorder recorder;
  recorder.Record(-5);
  recorder.Record(INT64_MAX);
  EXPECT_EQ(recorder.count(), 2u);
  EXPECT_EQ(recorder.Quantile(0.5), 0);
  EXPECT_EQ(recorder.max(), INT64_MAX);
  EXPECT_EQ(recorder.Quantile(1.0), INT64_MAX);  // never above max, never below the clamp
}

TEST(LatencyRecorderTest, MergeAddsCountsAndResetForgets) {
  LatencyRecorder a;
  LatencyRecorder b;
  for (int i = 0; i < 10; ++i) a.Record(1000);
  for (int i = 0; i < 30; ++i) b.Record(5000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 40u);
  EXPECT_EQ(a.max(), 5000);
  EXPECT_LE(a.Quantile(0.25), 1000 + 1000 / LatencyRecorder::kSubBuckets);
  EXPECT_GE(a.Quantile(0.26), 5000);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.Quantile(0.5), 0);
}

}  // namespace
}  // namespace switchboard::bench
