#include "routing/queue_budget.h"

#include <gtest/gtest.h>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;

constexpr Clock::duration kWindow = milliseconds(5000);
const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);

QueueBudget::Limits Limits(size_t sender_frames, size_t sender_bytes, size_t total_frames,
                           size_t total_bytes) {
  return {sender_frames, sender_bytes, total_frames, total_bytes};
}

// Charges frames of `bytes` from `sender` while they are allowed; returns how many were.
int Fill(QueueBudget& budget, std::string_view sender, size_t bytes, Clock::time_point at) {
  int charged = 0;
  while (budget.Allows(sender, bytes, at)) {
    budget.Charge(sender, bytes, at);
    ++charged;
  }
  return charged;
}

TEST(QueueBudgetTest, ASenderStopsAtItsFrameBudget) {
  QueueBudget budget(Limits(3, 1 << 20, 100, 1 << 30), kWindow);
  EXPECT_EQ(Fill(budget, "alice", 10, kStart), 3);
  EXPECT_TRUE(budget.Allows("bob", 10, kStart)) << "another sender has a budget of its own";
}

TEST(QueueBudgetTest, ASenderStopsAtItsByteBudget) {
  QueueBudget budget(Limits(1000, 100, 1000, 1 << 30), kWindow);
  EXPECT_EQ(Fill(budget, "alice", 30, kStart), 3);
  EXPECT_TRUE(budget.Allows("alice", 10, kStart)) << "a smaller frame still fits";
  EXPECT_FALSE(QueueBudget(Limits(1000, 100, 1000, 1 << 30), kWindow).Allows("x", 101, kStart))
      << "one frame over the whole budget never fits";
}

TEST(QueueBudgetTest, ThePodStopsAtItsTotals) {
  QueueBudget frames(Limits(10, 1 << 20, 15, 1 << 30), kWindow);
  EXPECT_EQ(Fill(frames, "alice", 1, kStart), 10);
  EXPECT_EQ(Fill(frames, "bob", 1, kStart), 5);
  EXPECT_FALSE(frames.Allows("carol", 1, kStart));

  QueueBudget bytes(Limits(1000, 1000, 1000, 250), kWindow);
  EXPECT_EQ(Fill(bytes, "alice", 100, kStart), 2);
  EXPECT_FALSE(bytes.Allows("bob", 100, kStart));
  EXPECT_TRUE(bytes.Allows("bob", 50, kStart));
  EXPECT_EQ(bytes.bytes(), 200u);
  EXPECT_EQ(bytes.frames(), 2u);
}

TEST(QueueBudgetTest, ChargesAreForgottenOnceTheirWindowHasPassed) {
  QueueBudget budget(Limits(2, 1 << 20, 100, 1 << 30), kWindow);
  budget.Charge("alice", 10, kStart);
  budget.Charge("alice", 10, kStart + milliseconds(1000));
  EXPECT_FALSE(budget.Allows("alice", 10, kStart + milliseconds(4999)));
  EXPECT_TRUE(budget.Allows("alice", 10, kStart + kWindow)) << "the first charge has lapsed";
  EXPECT_EQ(budget.frames(), 1u);
  EXPECT_EQ(budget.bytes(), 10u);
  EXPECT_TRUE(budget.Allows("alice", 10, kStart + milliseconds(6000)));
  EXPECT_EQ(budget.frames(), 0u);
  EXPECT_EQ(budget.bytes(), 0u);
}

TEST(QueueBudgetTest, ARefusalChargesNothing) {
  QueueBudget budget(Limits(1, 1 << 20, 100, 1 << 30), kWindow);
  budget.Charge("alice", 10, kStart);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(budget.Allows("alice", 10, kStart));
  EXPECT_EQ(budget.frames(), 1u);
  EXPECT_TRUE(budget.Allows("alice", 10, kStart + kWindow));
}

}  // namespace
}  // namespace switchboard::routing
