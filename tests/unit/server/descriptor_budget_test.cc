#include "server/descriptor_budget.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

TEST(DescriptorBudgetTest, ALimitThatFitsLeavesMaxConnectionsAlone) {
  const DescriptorBudget budget = BudgetDescriptors(DescriptorsFor(20000), 20000);
  EXPECT_EQ(budget.max_sessions, 20000);
  EXPECT_LT(budget.public_ceiling, budget.admin_ceiling);
  EXPECT_LT(budget.admin_ceiling, DescriptorsFor(20000));
}

TEST(DescriptorBudgetTest, ALowerLimitLowersTheSessionsBelowTheCeiling) {
  // This machine's hard limit under the default --max-connections 50000.
  const DescriptorBudget budget = BudgetDescriptors(20000, 50000);
  EXPECT_LT(budget.max_sessions, 20000 - 64);
  EXPECT_EQ(budget.public_ceiling, 20000 - 64);
  // Room for handshakes in progress: at least 5% of the sessions.
  EXPECT_GE(budget.public_ceiling - budget.max_sessions, budget.max_sessions / 20);
  EXPECT_GT(budget.max_sessions, 18000);
}

TEST(DescriptorBudgetTest, SmallLimitsKeepSixteenHandshakesOfRoom) {
  const DescriptorBudget budget = BudgetDescriptors(256, 50000);
  EXPECT_EQ(budget.public_ceiling, 192);
  EXPECT_EQ(budget.admin_ceiling, 224);
  EXPECT_EQ(budget.max_sessions, 176);
}

TEST(DescriptorBudgetTest, EveryLimitGivesAConsistentBudget) {
  for (int64_t limit = 1; limit < 5000; ++limit) {
    const DescriptorBudget budget = BudgetDescriptors(limit, 1 << 30);
    ASSERT_GE(budget.max_sessions, 1) << limit;
    ASSERT_GE(budget.public_ceiling, 1) << limit;
    ASSERT_GE(budget.admin_ceiling, budget.public_ceiling) << limit;
    if (limit > 100) {
      ASSERT_LE(budget.max_sessions + 16, budget.public_ceiling) << limit;
      ASSERT_LT(budget.admin_ceiling, limit) << limit;
    }
  }
}

TEST(DescriptorBudgetTest, DescriptorsForIsEnoughForItsSessions) {
  for (int64_t sessions : {1, 10, 100, 320, 321, 1000, 50000}) {
    EXPECT_EQ(BudgetDescriptors(DescriptorsFor(sessions), sessions).max_sessions, sessions)
        << sessions;
  }
}

}  // namespace
}  // namespace switchboard::server
