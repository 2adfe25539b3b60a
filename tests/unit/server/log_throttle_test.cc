#include "server/log_throttle.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const LogThrottle::Clock::time_point kStart{seconds(1000)};

TEST(LogThrottleTest, AdmitsTheLinesOfAWindowThenRefuses) {
  LogThrottle throttle(50, seconds(1));
  for (int i = 0; i < 50; ++i) {
    long long suppressed = -1;
    ASSERT_TRUE(throttle.Admit(kStart + milliseconds(i), &suppressed)) << i;
    EXPECT_EQ(suppressed, 0) << i;
  }
  long long suppressed = 0;
  EXPECT_FALSE(throttle.Admit(kStart + milliseconds(50), &suppressed));
  EXPECT_FALSE(throttle.Admit(kStart + milliseconds(999), &suppressed));
}

TEST(LogThrottleTest, NextWindowAdmitsAndReportsTheSuppressedCount) {
  LogThrottle throttle(50, seconds(1));
  long long suppressed = 0;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(throttle.Admit(kStart, &suppressed));
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(throttle.Admit(kStart + milliseconds(100), &suppressed));

  suppressed = -1;
  ASSERT_TRUE(throttle.Admit(kStart + seconds(1), &suppressed));
  EXPECT_EQ(suppressed, 7);
  // Reported once: the next line has nothing to report.
  ASSERT_TRUE(throttle.Admit(kStart + seconds(1), &suppressed));
  EXPECT_EQ(suppressed, 0);
}

TEST(LogThrottleTest, EachWindowHasItsOwnLines) {
  LogThrottle throttle(50, seconds(1));
  long long suppressed = 0;
  for (int window = 0; window < 3; ++window) {
    const auto start = kStart + seconds(10 * window);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(throttle.Admit(start, &suppressed)) << window;
    EXPECT_FALSE(throttle.Admit(start + milliseconds(500), &suppressed)) << window;
  }
  ASSERT_TRUE(throttle.Admit(kStart + seconds(100), &suppressed));
  EXPECT_EQ(suppressed, 1);
}

TEST(LogThrottleTest, WindowStartsAtTheFirstLineAfterTheLastWindow) {
  LogThrottle throttle(2, seconds(1));
  long long suppressed = 0;
  ASSERT_TRUE(throttle.Admit(kStart, &suppressed));
  ASSERT_TRUE(throttle.Admit(kStart, &suppressed));
  EXPECT_FALSE(throttle.Admit(kStart + milliseconds(999), &suppressed));
  // A new window opens at 1.5 s and lasts until 2.5 s.
  ASSERT_TRUE(throttle.Admit(kStart + milliseconds(1500), &suppressed));
  EXPECT_EQ(suppressed, 1);
  ASSERT_TRUE(throttle.Admit(kStart + milliseconds(2000), &suppressed));
  EXPECT_FALSE(throttle.Admit(kStart + milliseconds(2499), &suppressed));
  ASSERT_TRUE(throttle.Admit(kStart + milliseconds(2500), &suppressed));
  EXPECT_EQ(suppressed, 1);
}

TEST(LogThrottleTest, SuppressedCountAccumulatesUntilALineIsWritten) {
  LogThrottle throttle(1, seconds(1));
  long long suppressed = 0;
  ASSERT_TRUE(throttle.Admit(kStart, &suppressed));
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(throttle.Admit(kStart, &suppressed));
  ASSERT_TRUE(throttle.Admit(kStart + seconds(5), &suppressed));
  EXPECT_EQ(suppressed, 1000);
}

}  // namespace
}  // namespace switchboard::server
