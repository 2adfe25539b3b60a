#include "server/rate_limiter.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

using std::chrono::milliseconds;
using Verdict = RateLimiter::Verdict;

const RateLimiter::Clock::time_point kStart{std::chrono::seconds(1000)};

TEST(RateLimiterTest, BurstPassesThenRefuses) {
  RateLimiter limiter(10, 5, 100, kStart);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.Admit(kStart), Verdict::kAllow) << i;
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kRefuse);
}

TEST(RateLimiterTest, RefillsAtTheRate) {
  RateLimiter limiter(10, 1, 100, kStart);
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kAllow);
  EXPECT_EQ(limiter.Admit(kStart + milliseconds(50)), Verdict::kRefuse);  // half a token
  EXPECT_EQ(limiter.Admit(kStart + milliseconds(100)), Verdict::kAllow);
  EXPECT_EQ(limiter.Admit(kStart + milliseconds(150)), Verdict::kRefuse);
}

TEST(RateLimiterTest, SavesAtMostTheBurst) {
  RateLimiter limiter(10, 3, 100, kStart);
  const auto later = kStart + std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Admit(later), Verdict::kAllow);
  EXPECT_EQ(limiter.Admit(later), Verdict::kRefuse);
}

TEST(RateLimiterTest, PersistentFloodingDisconnects) {
  RateLimiter limiter(1, 1, 3, kStart);
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kAllow);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Admit(kStart), Verdict::kRefuse) << i;
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kDisconnect);
}

TEST(RateLimiterTest, StrikesAreForgivenAfterTheWindow) {
  RateLimiter limiter(1, 1, 2, kStart);
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kAllow);
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kRefuse);
  EXPECT_EQ(limiter.Admit(kStart), Verdict::kRefuse);
  const auto later = kStart + RateLimiter::kStrikeWindow + milliseconds(1);
  EXPECT_EQ(limiter.Admit(later), Verdict::kAllow);
  EXPECT_EQ(limiter.Admit(later), Verdict::kRefuse);  // a new window: one strike
  EXPECT_EQ(limiter.Admit(later), Verdict::kRefuse);  // two
  EXPECT_EQ(limiter.Admit(later), Verdict::kDisconnect);
}

}  // namespace
}  // namespace switchboard::server
