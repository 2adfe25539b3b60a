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
  EXPECT_FALSE(frames.Published("pod-b", 0, sequence, {"m", ""}, Clock::now()));
  EXPECT_EQ(frames.size(), 0u);
}

// The receiving pod's receipt came first (this pod read its subscription before its command
// connection) and starts above the frame: the frame is lost, and returned at once.
TEST(UnconfirmedFramesTest, AReceiptThatCameBeforeThePublishReplyAndStartsAboveItLosesIt) {
  UnconfirmedFrames frames;
  const uint64_t lost = frames.NextSequence("pod-b", 0);
  const uint64_t handled = frames.NextSequence("pod-b", 0);
  frames.Confirm("pod-b", Receipt{0, handled, handled});
  const std::optional<UnconfirmedFrames::Frame> frame =
      frames.Published("pod-b", 0, lost, {"m", "r"}, Clock::now());
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->message, "m");
  EXPECT_FALSE(frames.Published("pod-b", 0, handled, {"n", ""}, Clock::now()));
  EXPECT_EQ(frames.size(), 0u);
}

// A predecessor under the same id, with a clock ahead of this pod's, gave out higher numbers: a
// receipt for them, come late, must not cover (or lose) this pod's frames.
TEST(UnconfirmedFramesTest, AReceiptForNumbersNeverGivenOutIsIgnored) {
  UnconfirmedFrames frames;
  const uint64_t sequence = frames.NextSequence("pod-b", 0);
  frames.Published("pod-b", 0, sequence, {"m", "r"}, Clock::now());
  EXPECT_TRUE(
      frames.Confirm("pod-b", Receipt{0, sequence + 5'000'000, sequence + 5'000'100}).empty());
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames.Confirm("pod-b", Receipt{0, sequence, sequence}).empty());
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

using Owed = std::vector<std::pair<std::string, std::vector<Receipt>>>;
constexpr auto kForget = std::chrono::minutes(10);

TEST(ReceiptsOwedTest, OwesARangePerPodAndBucket) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  EXPECT_TRUE(owed.empty());
  EXPECT_TRUE(owed.Handled("pod-a", 7, 10, now));
  EXPECT_TRUE(owed.Handled("pod-a", 7, 11, now));
  EXPECT_TRUE(owed.Handled("pod-a", 7, 12, now));
  EXPECT_TRUE(owed.Handled("pod-a", 2, 5, now));
  EXPECT_TRUE(owed.Handled("pod-c", 7, 99, now));
  Owed receipts = owed.Take(now, kForget);
  std::sort(receipts.begin(), receipts.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  EXPECT_EQ(receipts, (Owed{{"pod-a", {{2, 5, 5}, {7, 10, 12}}}, {"pod-c", {{7, 99, 99}}}}));
  EXPECT_TRUE(owed.empty());
  EXPECT_TRUE(owed.Take(now, kForget).empty()) << "nothing moved since";
  // The range keeps its first while numbers follow on; only moved streams are sent.
  EXPECT_TRUE(owed.Handled("pod-a", 7, 13, now));
  EXPECT_EQ(owed.Take(now, kForget), (Owed{{"pod-a", {{7, 10, 13}}}}));
}

// A number that skips ahead (frames that reached a subscription this pod no longer reads) starts
// a new range: the older goes first, and the sending pod takes what lies between for lost.
TEST(ReceiptsOwedTest, ASkipStartsANewRange) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  owed.Handled("pod-a", 1, 10, now);
  owed.Handled("pod-a", 1, 11, now);
  owed.Handled("pod-a", 1, 20, now);
  owed.Handled("pod-a", 1, 21, now);
  owed.Handled("pod-a", 1, 30, now);
  EXPECT_EQ(owed.Take(now, kForget), (Owed{{"pod-a", {{1, 10, 11}, {1, 20, 21}, {1, 30, 30}}}}));
  // A range already sent is not sent again when a skip ends it.
  owed.Handled("pod-a", 1, 40, now);
  EXPECT_EQ(owed.Take(now, kForget), (Owed{{"pod-a", {{1, 40, 40}}}}));
}

// A frame numbered below the last one handled ran late, from a connection its sender's pod gave
// up on: it is not to be handled, and is owed nothing.
TEST(ReceiptsOwedTest, AFrameOlderThanOneHandledIsRefused) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  EXPECT_TRUE(owed.Handled("pod-a", 7, 10, now));
  EXPECT_TRUE(owed.Handled("pod-a", 7, 12, now));
  EXPECT_FALSE(owed.Handled("pod-a", 7, 11, now));
  EXPECT_FALSE(owed.Handled("pod-a", 7, 12, now)) << "nor twice the same";
  EXPECT_TRUE(owed.Handled("pod-a", 6, 11, now)) << "each stream on its own";
  EXPECT_TRUE(owed.Handled("pod-b", 7, 11, now));
  owed.Take(now, kForget);
  EXPECT_FALSE(owed.Handled("pod-a", 7, 9, now)) << "the last number outlives the receipt";
}

// Its numbers start at its clock in microseconds: a clock set back by a second or more.
TEST(ReceiptsOwedTest, APodRestartedWithItsClockBehindStartsItsStreamAfresh) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  const uint64_t old_numbers = 1'700'000'000'000'000;
  EXPECT_TRUE(owed.Handled("pod-a", 7, old_numbers, now));
  const uint64_t restarted = old_numbers - ReceiptsOwed::kRestartGap - 1;
  EXPECT_TRUE(owed.Handled("pod-a", 7, restarted, now));
  EXPECT_TRUE(owed.Handled("pod-a", 7, restarted + 1, now));
  EXPECT_FALSE(owed.Handled("pod-a", 7, restarted, now));
  EXPECT_EQ(owed.Take(now, kForget),
            (Owed{{"pod-a", {{7, old_numbers, old_numbers}, {7, restarted, restarted + 1}}}}));
}

TEST(ReceiptsOwedTest, StreamsThatSentNothingForLongAreForgotten) {
  ReceiptsOwed owed;
  const Clock::time_point t0 = Clock::now();
  owed.Handled("pod-a", 7, 10, t0);
  owed.Take(t0, kForget);
  owed.Take(t0 + kForget + std::chrono::seconds(1), kForget);
  EXPECT_TRUE(owed.Handled("pod-a", 7, 5, t0)) << "a forgotten stream starts afresh";
}

}  // namespace
}  // namespace switchboard::routing
