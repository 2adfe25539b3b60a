#include "server/keepalive.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

using Action = Keepalive::Action;

TEST(KeepaliveTest, QuietUntilTheInterval) {
  Keepalive keepalive(30000, 10000);
  keepalive.Heard(1000);
  EXPECT_EQ(keepalive.Check(1000), Action::kNone);
  EXPECT_EQ(keepalive.Check(30999), Action::kNone);
}

TEST(KeepaliveTest, PingsOncePerSilenceThenHangsUp) {
  Keepalive keepalive(30000, 10000);
  keepalive.Heard(0);
  EXPECT_EQ(keepalive.Check(30000), Action::kPing);
  EXPECT_EQ(keepalive.Check(30100), Action::kNone);  // one ping, not one per tick
  EXPECT_EQ(keepalive.Check(39999), Action::kNone);
  EXPECT_EQ(keepalive.Check(40000), Action::kHangUp);
  EXPECT_EQ(keepalive.Check(50000), Action::kHangUp);
}

TEST(KeepaliveTest, AnySignOfLifeStartsAgain) {
  Keepalive keepalive(1000, 1000);
  keepalive.Heard(0);
  EXPECT_EQ(keepalive.Check(1000), Action::kPing);
  keepalive.Heard(1500);  // the pong, or any frame
  EXPECT_EQ(keepalive.Check(1999), Action::kNone);
  EXPECT_EQ(keepalive.Check(2500), Action::kPing);
  EXPECT_EQ(keepalive.Check(3499), Action::kNone);
  EXPECT_EQ(keepalive.Check(3500), Action::kHangUp);
}

TEST(KeepaliveTest, AClockBehindTheLastSignIsSilenceZero) {
  Keepalive keepalive(1000, 1000);
  keepalive.Heard(5000);
  EXPECT_EQ(keepalive.Check(4000), Action::kNone);
}

}  // namespace
}  // namespace switchboard::server
