#include "routing/delivery_receipts.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> Messages(const std::vector<UnconfirmedFrames::Frame>& frames) {
  std::vector<std::string> messages;
  for (const auto& frame : frames) messages.push_back(frame.message + "/" + frame.ref);
  return messages;
}

TEST(UnconfirmedFramesTest, StreamsNumberTheirFramesOnePerPodAndBucket) {
  UnconfirmedFrames frames;
  const uint64_t first = frames.NextSequence("pod-b", 3);
  EXPECT_EQ(frames.NextSequence("pod-b", 3), first + 1);
  EXPECT_GT(first, 1'600'000'000'000'000u) << "numbers start at the wall clock in microseconds";
  const uint64_t other = frames.NextSequence("pod-b", 4);
  EXPECT_EQ(frames.NextSequence("pod-b", 4), other + 1);
  EXPECT_EQ(frames.NextSequence("pod-b", 3), first + 2) << "each stream counts on its own";
}

TEST(UnconfirmedFramesTest, AReceiptCoversItsRange) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  std::vector<uint64_t> sequence;
  for (int i = 0; i < 4; ++i) {
    sequence.push_back(frames.NextSequence("pod-b", 1));
    frames.Published("pod-b", 1, sequence.back(), {"m" + std::to_string(i), "r"}, t0);
  }
  EXPECT_EQ(frames.size(), 4u);
  EXPECT_TRUE(frames.Confirm("pod-b", Receipt{1, sequence[0], sequence[2]}).empty());
  EXPECT_EQ(frames.size(), 1u);
  // Another pod's receipt covers nothing here, nor does another bucket's.
  EXPECT_TRUE(frames.Confirm("pod-c", Receipt{1, sequence[3], sequence[3]}).empty());
  EXPECT_TRUE(frames.Confirm("pod-b", Receipt{2, sequence[3], sequence[3]}).empty());
  EXPECT_EQ(Messages(frames.TakePublishedBefore(t0 + milliseconds(1))),
            (std::vector<std::string>{"m3/r"}));
  EXPECT_EQ(frames.size(), 0u);
}

// The receiving pod subscribed again: what it handled first on its new subscription comes after
// frames that reached only its old one. Those are lost, and returned at once.
TEST(UnconfirmedFramesTest, FramesBeforeAReceiptsFirstAreLost) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  std::vector<uint64_t> sequence;
  for (int i = 0; i < 5; ++i) {
    sequence.push_back(frames.NextSequence("pod-b", 0));
    frames.Published("pod-b", 0, sequence.back(), {"m" + std::to_string(i), ""}, t0);
  }
  EXPECT_TRUE(frames.Confirm("pod-b", Receipt{0, sequence[0], sequence[0]}).empty());
  EXPECT_EQ(Messages(frames.Confirm("pod-b", Receipt{0, sequence[3], sequence[3]})),
            (std::vector<std::string>{"m1/", "m2/"}));
  EXPECT_EQ(frames.size(), 1u);
}

TEST(UnconfirmedFramesTest, AReceiptThatCameBeforeThePublishReplyCoversIt) {
  UnconfirmedFrames frames;
  const uint64_t sequence = frames.NextSequence("pod-b", 0);
  frames.Confirm("pod-b", Receipt{0, sequence, sequence});
  frames.Published("pod-b", 0, sequence, {"m", ""}, Clock::now());
  EXPECT_EQ(frames.size(), 0u);
}

TEST(UnconfirmedFramesTest, OnlyFramesPublishedBeforeTheCutoffAreGivenUp) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  frames.Published("pod-b", 0, frames.NextSequence("pod-b", 0), {"old", "1"}, t0);
  frames.Published("pod-c", 5, frames.NextSequence("pod-c", 5), {"old too", "2"}, t0);
  frames.Published("pod-b", 0, frames.NextSequence("pod-b", 0), {"new", "3"},
                   t0 + milliseconds(500));
  std::vector<std::string> overdue = Messages(frames.TakePublishedBefore(t0 + milliseconds(100)));
  std::sort(overdue.begin(), overdue.end());
  EXPECT_EQ(overdue, (std::vector<std::string>{"old too/2", "old/1"}));
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames.TakePublishedBefore(t0 + milliseconds(100)).empty());
}

TEST(ReceiptsOwedTest, OwesARangePerPodAndBucketFromTheFirstHandled) {
  ReceiptsOwed owed;
  EXPECT_TRUE(owed.empty());
  owed.Handled("pod-a", 7, 10);
  owed.Handled("pod-a", 7, 12);
  owed.Handled("pod-a", 7, 11);  // an older one, late (a connection that was given up on)
  owed.Handled("pod-a", 2, 5);
  owed.Handled("pod-c", 7, 99);
  auto receipts = owed.Take();
  std::sort(receipts.begin(), receipts.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_EQ(receipts.size(), 2u);
  EXPECT_EQ(receipts[0].first, "pod-a");
  EXPECT_EQ(receipts[0].second, (std::vector<Receipt>{{2, 5, 5}, {7, 10, 12}}));
  EXPECT_EQ(receipts[1].first, "pod-c");
  EXPECT_EQ(receipts[1].second, (std::vector<Receipt>{{7, 99, 99}}));
  EXPECT_TRUE(owed.empty());
  EXPECT_TRUE(owed.Take().empty()) << "nothing moved since";
  // The range keeps its first while the subscription lasts; only moved streams are sent.
  owed.Handled("pod-a", 7, 13);
  EXPECT_EQ(owed.Take(),
            (std::vector<std::pair<std::string, std::vector<Receipt>>>{{"pod-a", {{7, 10, 13}}}}));
}

// After a new subscription, the old range not sent yet goes first, then the new one: the sending
// pod confirms the first, and takes what lies between them for lost.
TEST(ReceiptsOwedTest, ANewSubscriptionStartsNewRanges) {
  ReceiptsOwed owed;
  owed.Handled("pod-a", 1, 10);
  owed.Handled("pod-a", 1, 11);
  owed.Resubscribed();
  EXPECT_FALSE(owed.empty()) << "the old range is still owed";
  owed.Handled("pod-a", 1, 20);
  EXPECT_EQ(owed.Take(), (std::vector<std::pair<std::string, std::vector<Receipt>>>{
                             {"pod-a", {{1, 10, 11}, {1, 20, 20}}}}));
  owed.Resubscribed();
  owed.Handled("pod-c", 3, 30);
  owed.Resubscribed();
  EXPECT_EQ(owed.Take(),
            (std::vector<std::pair<std::string, std::vector<Receipt>>>{{"pod-c", {{3, 30, 30}}}}))
      << "owed only from an old subscription";
  EXPECT_TRUE(owed.empty());
}

}  // namespace
}  // namespace switchboard::routing
