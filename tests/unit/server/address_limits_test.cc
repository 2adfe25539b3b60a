#include "server/address_limits.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Verdict = AddressLimits::Verdict;

const AddressLimits::Clock::time_point kStart{seconds(1000)};

AddressLimits::Options MakeOptions(int max_connections, double rate, double burst) {
  AddressLimits::Options options;
  options.max_connections = max_connections;
  options.handshake_rate = rate;
  options.handshake_burst = burst;
  return options;
}

TEST(AddressLimitsTest, MaxConnectionsThenRefusalThenAdmitAfterClosed) {
  AddressLimits limits(MakeOptions(3, 100, 100));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kAdmit) << i;
    limits.Opened("192.0.2.1", kStart);
  }
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kTooManyConnections);
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kTooManyConnections);
  limits.Closed("192.0.2.1");
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kAdmit);
  limits.Opened("192.0.2.1", kStart);
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kTooManyConnections);
}

TEST(AddressLimitsTest, AdmittedButNotOpenedHandshakesHoldNoConnection) {
  AddressLimits limits(MakeOptions(1, 100, 100));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kAdmit) << i;
  }
}

TEST(AddressLimitsTest, AddressesAreCountedApart) {
  AddressLimits limits(MakeOptions(1, 1, 1));
  ASSERT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kAdmit);
  limits.Opened("192.0.2.1", kStart);
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kTooManyConnections);
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.2", kStart), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.2", kStart), Verdict::kTooManyHandshakes);
  EXPECT_EQ(limits.AdmitHandshake("2001:db8::1", kStart), Verdict::kAdmit);
}

TEST(AddressLimitsTest, BurstThenTooManyHandshakes) {
  AddressLimits limits(MakeOptions(1000, 10, 5));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kAdmit) << i;
  }
  EXPECT_EQ(limits.AdmitHandshake("192.0.2.1", kStart), Verdict::kTooManyHandshakes);
}

TEST(AddressLimitsTest, RefillsOverTime) {
  AddressLimits limits(MakeOptions(1000, 10, 5));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(50)), Verdict::kTooManyHandshakes);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(100)), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(150)), Verdict::kTooManyHandshakes);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(200)), Verdict::kAdmit);
  // Half a second is five more.
  const auto later = kStart + milliseconds(700);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limits.AdmitHandshake("a", later), Verdict::kAdmit) << i;
  EXPECT_EQ(limits.AdmitHandshake("a", later), Verdict::kTooManyHandshakes);
}

TEST(AddressLimitsTest, SavesAtMostTheBurst) {
  AddressLimits limits(MakeOptions(1000, 10, 3));
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  const auto later = kStart + seconds(3600);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.AdmitHandshake("a", later), Verdict::kAdmit) << i;
  EXPECT_EQ(limits.AdmitHandshake("a", later), Verdict::kTooManyHandshakes);
}

TEST(AddressLimitsTest, TimeGoingBackwardsAddsNothing) {
  AddressLimits limits(MakeOptions(1000, 10, 1));
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart - seconds(10)), Verdict::kTooManyHandshakes);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(50)), Verdict::kTooManyHandshakes);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(100)), Verdict::kAdmit);
}

TEST(AddressLimitsTest, HandshakeRefusalSpendsNothing) {
  AddressLimits limits(MakeOptions(1000, 1, 1));
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  // Refused attempts in between must not push the next handshake further away.
  for (int i = 1; i < 8; ++i) {  // steps of 1/8 s add up exactly
    EXPECT_EQ(limits.AdmitHandshake("a", kStart + milliseconds(125 * i)),
              Verdict::kTooManyHandshakes);
  }
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + seconds(1)), Verdict::kAdmit);
}

TEST(AddressLimitsTest, ConnectionRefusalSpendsNoHandshake) {
  AddressLimits limits(MakeOptions(1, 0, 3));  // no refill: the burst is all there is
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  limits.Opened("a", kStart);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kTooManyConnections);
  }
  limits.Closed("a");
  EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kTooManyHandshakes);
}

TEST(AddressLimitsTest, ExtraClosedDoesNotFreeASlot) {
  AddressLimits limits(MakeOptions(1, 100, 100));
  limits.Opened("a", kStart);
  limits.Closed("a");
  limits.Closed("a");  // one too many
  limits.Closed("never-seen");
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  limits.Opened("a", kStart);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kTooManyConnections);
}

TEST(AddressLimitsTest, TrackedCountsTheAddressesSeen) {
  AddressLimits limits(MakeOptions(10, 10, 10));
  EXPECT_EQ(limits.tracked(), 0u);
  limits.AdmitHandshake("a", kStart);
  EXPECT_EQ(limits.tracked(), 1u);
  limits.AdmitHandshake("a", kStart);
  EXPECT_EQ(limits.tracked(), 1u);
  limits.AdmitHandshake("b", kStart);
  limits.Opened("c", kStart);
  EXPECT_EQ(limits.tracked(), 3u);
  limits.Closed("d");
  EXPECT_EQ(limits.tracked(), 3u);
}

TEST(AddressLimitsTest, SweepForgetsIdleAddressesWithAFullBudget) {
  AddressLimits limits(MakeOptions(10, 10, 10));
  limits.AdmitHandshake("a", kStart);  // 9 left: full again after 100 ms
  limits.AdmitHandshake("b", kStart);
  limits.Opened("b", kStart);  // holds a connection
  ASSERT_EQ(limits.tracked(), 2u);

  limits.Sweep(kStart);
  EXPECT_EQ(limits.tracked(), 2u);  // a's budget is not full yet
  limits.Sweep(kStart + milliseconds(50));
  EXPECT_EQ(limits.tracked(), 2u);
  limits.Sweep(kStart + seconds(1));
  EXPECT_EQ(limits.tracked(), 1u);  // a is forgotten, b is kept
  limits.Sweep(kStart + seconds(3600));
  EXPECT_EQ(limits.tracked(), 1u);

  // b is still counted: with max 10, nine more may open.
  limits.Closed("b");
  limits.Sweep(kStart + seconds(3601));
  EXPECT_EQ(limits.tracked(), 0u);
}

TEST(AddressLimitsTest, SweepKeepsTheConnectionCount) {
  AddressLimits limits(MakeOptions(1, 100, 100));
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  limits.Opened("a", kStart);
  limits.Sweep(kStart + seconds(60));
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + seconds(60)), Verdict::kTooManyConnections);
}

TEST(AddressLimitsTest, ForgottenAddressStartsWithAFullBudget) {
  AddressLimits limits(MakeOptions(10, 1, 2));
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  ASSERT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit);
  limits.Sweep(kStart + seconds(2));
  ASSERT_EQ(limits.tracked(), 0u);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + seconds(2)), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + seconds(2)), Verdict::kAdmit);
  EXPECT_EQ(limits.AdmitHandshake("a", kStart + seconds(2)), Verdict::kTooManyHandshakes);
}

TEST(AddressLimitsTest, FreshAddressHasAFullBudget) {
  AddressLimits limits(MakeOptions(10, 1, 4));
  limits.Opened("a", kStart);  // known since Opened, budget untouched
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kAdmit) << i;
  EXPECT_EQ(limits.AdmitHandshake("a", kStart), Verdict::kTooManyHandshakes);
}

}  // namespace
}  // namespace switchboard::server
