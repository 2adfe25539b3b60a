#include "routing/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;

// The delays of `count` calls to Next(random_unit), in milliseconds.
std::vector<int64_t> Delays(Backoff& backoff, int count, double random_unit) {
  std::vector<int64_t> delays;
  for (int i = 0; i < count; ++i) delays.push_back(backoff.Next(random_unit).count());
  return delays;
}

TEST(BackoffTest, WithFullJitterTheDelayDoublesUpToTheCap) {
  Backoff backoff(milliseconds(100), milliseconds(1000));
  // random_unit 1.0 is outside [0, 1) but is clamped: the whole base delay.
  EXPECT_EQ(Delays(backoff, 7, 1.0), (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000, 1000}));
}

TEST(BackoffTest, WithNoJitterTheDelayIsHalfTheBase) {
  Backoff backoff(milliseconds(100), milliseconds(1000));
  EXPECT_EQ(Delays(backoff, 7, 0.0), (std::vector<int64_t>{50, 100, 200, 400, 500, 500, 500}));
}

TEST(BackoffTest, JitterStaysWithinHalfAndAllOfTheBase) {
  const std::vector<int64_t> bases = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
  for (double random_unit : {0.0, 0.25, 0.5, 0.999}) {
    Backoff backoff(milliseconds(100), milliseconds(5000));
    for (int64_t base : bases) {
      const int64_t delay = backoff.Next(random_unit).count();
      EXPECT_GE(delay, base / 2) << "random " << random_unit << " base " << base;
      EXPECT_LE(delay, base) << "random " << random_unit << " base " << base;
    }
  }
}

TEST(BackoffTest, AlmostOneGivesAlmostTheWholeBase) {
  Backoff backoff(milliseconds(100), milliseconds(5000));
  EXPECT_EQ(Delays(backoff, 3, 0.999), (std::vector<int64_t>{99, 199, 399}));
}

TEST(BackoffTest, OutOfRangeRandomIsClamped) {
  Backoff low(milliseconds(100), milliseconds(5000));
  EXPECT_EQ(low.Next(-3.0).count(), 50);
  Backoff high(milliseconds(100), milliseconds(5000));
  EXPECT_EQ(high.Next(7.0).count(), 100);
}

TEST(BackoffTest, OddBasesKeepTheirUpperBound) {
  // Half of 101 rounds down: the fixed part is 50 and the jitter covers the other 51.
  Backoff backoff(milliseconds(101), milliseconds(5000));
  EXPECT_EQ(backoff.Next(0.0).count(), 50);
  Backoff full(milliseconds(101), milliseconds(5000));
  EXPECT_EQ(full.Next(1.0).count(), 101);
}

TEST(BackoffTest, ResetStartsOverFromTheInitialDelay) {
  Backoff backoff(milliseconds(100), milliseconds(1000));
  Delays(backoff, 6, 1.0);
  backoff.Reset();
  EXPECT_EQ(Delays(backoff, 3, 1.0), (std::vector<int64_t>{100, 200, 400}));
  backoff.Reset();
  backoff.Reset();
  EXPECT_EQ(backoff.Next(1.0).count(), 100);
}

TEST(BackoffTest, ACapEqualToTheInitialDelayNeverGrows) {
  Backoff backoff(milliseconds(100), milliseconds(100));
  EXPECT_EQ(Delays(backoff, 4, 1.0), (std::vector<int64_t>{100, 100, 100, 100}));
}

}  // namespace
}  // namespace switchboard::routing
