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
  frames.Confirm("pod-b", Receipt{1, sequence[0], sequence[2]});
  EXPECT_EQ(frames.size(), 1u);
  // Another pod's receipt covers nothing here, nor does another bucket's.
  frames.Confirm("pod-c", Receipt{1, sequence[3], sequence[3]});
  frames.Confirm("pod-b", Receipt{2, sequence[3], sequence[3]});
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_EQ(Messages(frames.TakePublishedBefore(t0 + milliseconds(1))),
            (std::vector<std::string>{"m3/r"}));
  EXPECT_EQ(frames.size(), 0u);
}

// The receiving pod subscribed again: what it handled first on its new subscription comes after
// frames that reached its old one. It may have handled them there, their receipt lost with the
// subscription: they wait, and the stream is asked about at once.
TEST(UnconfirmedFramesTest, FramesBeforeAReceiptsFirstAreAskedAbout) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  std::vector<uint64_t> sequence;
  for (int i = 0; i < 5; ++i) {
    sequence.push_back(frames.NextSequence("pod-b", 0));
    frames.Published("pod-b", 0, sequence.back(), {"m" + std::to_string(i), ""}, t0);
  }
  frames.Confirm("pod-b", Receipt{0, sequence[0], sequence[0]});
  EXPECT_TRUE(frames.TakeAsks(t0, t0, false).empty());
  frames.Confirm("pod-b", Receipt{0, sequence[3], sequence[3]});
  EXPECT_EQ(frames.size(), 3u);
  const std::vector<UnconfirmedFrames::Ask> asks = frames.TakeAsks(t0, t0, false);
  ASSERT_EQ(asks.size(), 1u) << "asked at once, though not late";
  EXPECT_EQ(asks[0].top, sequence[4]);
  EXPECT_EQ(Messages(frames.Answered("pod-b", 0, asks[0].top, {{0, sequence[1], sequence[1]}})),
            (std::vector<std::string>{"m2/", "m4/"}))
      << "m4, asked about and not handled, is lost too";
  EXPECT_EQ(frames.size(), 0u);
}

TEST(UnconfirmedFramesTest, AReceiptThatCameBeforeThePublishReplyCoversIt) {
  UnconfirmedFrames frames;
  const uint64_t sequence = frames.NextSequence("pod-b", 0);
  frames.Confirm("pod-b", Receipt{0, sequence, sequence});
  EXPECT_FALSE(frames.Published("pod-b", 0, sequence, {"m", ""}, Clock::now()));
  EXPECT_EQ(frames.size(), 0u);
}

// The receiving pod's receipt came first (this pod read its subscription before its command
// connection) and starts above the frame: the frame waits, and the stream is asked about.
TEST(UnconfirmedFramesTest, AReceiptThatCameBeforeThePublishReplyAndStartsAboveItAsks) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const uint64_t skipped = frames.NextSequence("pod-b", 0);
  const uint64_t handled = frames.NextSequence("pod-b", 0);
  frames.Confirm("pod-b", Receipt{0, handled, handled});
  EXPECT_FALSE(frames.Published("pod-b", 0, skipped, {"m", "r"}, t0));
  EXPECT_FALSE(frames.Published("pod-b", 0, handled, {"n", ""}, t0));
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames.TakeAsks(t0, t0, false).size(), 1u);
}

// A predecessor under the same id, with a clock ahead of this pod's, gave out higher numbers: a
// receipt for them, come late, must not cover (or lose) this pod's frames.
TEST(UnconfirmedFramesTest, AReceiptForNumbersNeverGivenOutIsIgnored) {
  UnconfirmedFrames frames;
  const uint64_t sequence = frames.NextSequence("pod-b", 0);
  frames.Published("pod-b", 0, sequence, {"m", "r"}, Clock::now());
  frames.Confirm("pod-b", Receipt{0, sequence + 5'000'000, sequence + 5'000'100});
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames.TakeAsks(Clock::now(), Clock::now() - milliseconds(1000), false).empty());
  frames.Confirm("pod-b", Receipt{0, sequence, sequence});
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

// Publishes `count` frames to pod-b's stream of bucket 0 at `at`; returns their numbers.
std::vector<uint64_t> PublishSome(UnconfirmedFrames* frames, int count, Clock::time_point at,
                                  std::string_view prefix = "m") {
  std::vector<uint64_t> numbers;
  for (int i = 0; i < count; ++i) {
    numbers.push_back(frames->NextSequence("pod-b", 0));
    frames->Published("pod-b", 0, numbers.back(), {std::string(prefix) + std::to_string(i), ""},
                      at);
  }
  return numbers;
}

// A receipt is late: the stream is asked about once, about every number given out so far, and
// again only once the last ask is as old as the lateness.
TEST(UnconfirmedFramesTest, AStreamWhoseReceiptIsLateIsAskedAbout) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const std::vector<uint64_t> sent = PublishSome(&frames, 2, t0);
  EXPECT_TRUE(frames.TakeAsks(t0 + milliseconds(500), t0, false).empty()) << "not late yet";
  const std::vector<UnconfirmedFrames::Ask> asks =
      frames.TakeAsks(t0 + milliseconds(1500), t0 + milliseconds(500), false);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].pod, "pod-b");
  EXPECT_EQ(asks[0].bucket, 0);
  EXPECT_EQ(asks[0].top, sent[1]);
  EXPECT_TRUE(frames.TakeAsks(t0 + milliseconds(2000), t0 + milliseconds(1000), false).empty())
      << "asked 500 ms ago";
  EXPECT_EQ(frames.TakeAsks(t0 + milliseconds(2600), t0 + milliseconds(1600), false).size(), 1u);
  EXPECT_EQ(frames.size(), 2u) << "asking gives nothing up";
}

// After a new link, every stream with a frame waiting is asked about, late or not.
TEST(UnconfirmedFramesTest, ANewLinkAsksAboutEveryStreamWaiting) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  PublishSome(&frames, 1, t0);
  frames.NextSequence("pod-c", 3);  // a stream with nothing waiting
  const std::vector<UnconfirmedFrames::Ask> asks = frames.TakeAsks(t0, t0, true);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].pod, "pod-b");
}

// The answer: what it lists is handled, every other frame up to the top is lost, and frames
// numbered above the top go on waiting.
TEST(UnconfirmedFramesTest, AnAnswerSettlesEveryFrameUpToItsTop) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const std::vector<uint64_t> sent = PublishSome(&frames, 6, t0);
  const uint64_t top = sent[4];
  EXPECT_EQ(
      Messages(frames.Answered("pod-b", 0, top, {{0, sent[0], sent[1]}, {0, sent[3], sent[3]}})),
      (std::vector<std::string>{"m2/", "m4/"}));
  EXPECT_EQ(frames.size(), 1u) << "m5 was sent after the ask";
  // A publish reply that comes after the answer: the frame was asked about, and not listed.
  const uint64_t late = frames.NextSequence("pod-b", 0);
  EXPECT_EQ(Messages(frames.Answered("pod-b", 0, late, {})), (std::vector<std::string>{"m5/"}));
  EXPECT_TRUE(frames.Published("pod-b", 0, late, {"late", ""}, t0).has_value());
  EXPECT_EQ(frames.size(), 0u);
  // An answer about numbers this pod never gave out is a predecessor's: ignored.
  PublishSome(&frames, 1, t0);
  EXPECT_TRUE(frames.Answered("pod-b", 0, late + 100, {}).empty());
  EXPECT_EQ(frames.size(), 1u);
}

// A frame handed back gets no receipt: its bounce settles it. The receipt around it leaves a
// hole, which asks nothing once the bounce came.
TEST(UnconfirmedFramesTest, ABounceSettlesItsFrame) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const std::vector<uint64_t> sent = PublishSome(&frames, 3, t0);
  EXPECT_TRUE(frames.Returned("pod-b", 0, sent[1])) << "waiting: route it again";
  frames.Confirm("pod-b", Receipt{0, sent[0], sent[0]});
  frames.Confirm("pod-b", Receipt{0, sent[2], sent[2]});
  EXPECT_EQ(frames.size(), 0u);
  EXPECT_TRUE(frames.TakeAsks(t0, t0, false).empty());
}

// A bounce read before its frame's PUBLISH reply (the replies and the subscription are two
// connections): routed again, and the reply, when it comes, keeps nothing waiting.
TEST(UnconfirmedFramesTest, ABounceBeforeThePublishReplySettlesTheFrame) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const uint64_t sequence = frames.NextSequence("pod-b", 0);
  EXPECT_TRUE(frames.Returned("pod-b", 0, sequence));
  EXPECT_FALSE(frames.Published("pod-b", 0, sequence, {"m", "r"}, t0).has_value());
  EXPECT_EQ(frames.size(), 0u);
}

// The bounce of a frame whose sender was told already (an answer showed it unhandled: the bounce
// was left in a connection its pod gave up on, and Redis ran it late) is not routed again.
TEST(UnconfirmedFramesTest, ABounceOfAFrameToldOfIsDropped) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const std::vector<uint64_t> sent = PublishSome(&frames, 2, t0);
  EXPECT_EQ(Messages(frames.Answered("pod-b", 0, sent[1], {{0, sent[1], sent[1]}})),
            (std::vector<std::string>{"m0/"}));
  EXPECT_FALSE(frames.Returned("pod-b", 0, sent[0]));
  // Another pod's stream, or a predecessor's numbers: not this pod's to settle.
  EXPECT_TRUE(frames.Returned("pod-c", 0, sent[0]));
  EXPECT_TRUE(frames.Returned("pod-b", 0, sent[1] + 5'000'000));
}

// Asks that Redis ran but nobody answered for the timeout: the stream's frames are given up on,
// and the next new link asks about it again, so that the receiving pod drops any that arrive.
TEST(UnconfirmedFramesTest, AStreamWhoseAsksGoUnansweredIsGivenUp) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  PublishSome(&frames, 2, t0);
  frames.TakeAsks(t0 + milliseconds(1000), t0 + milliseconds(1000), false);
  EXPECT_TRUE(frames.TakeUnanswered(t0 + milliseconds(5000)).empty())
      << "Redis never ran the ask (it is frozen, or the link is down): nothing is given up";
  frames.AskRan("pod-b", 0, t0 + milliseconds(1000));
  frames.AskRan("pod-b", 0, t0 + milliseconds(2000));  // the first one counts
  EXPECT_TRUE(frames.TakeUnanswered(t0 + milliseconds(1000)).empty());
  EXPECT_EQ(Messages(frames.TakeUnanswered(t0 + milliseconds(1001))),
            (std::vector<std::string>{"m0/", "m1/"}));
  EXPECT_EQ(frames.size(), 0u);
  EXPECT_EQ(frames.TakeAsks(t0, t0, true).size(), 1u) << "given up on without an answer";
  frames.Answered("pod-b", 0, frames.NextSequence("pod-b", 0), {});
  EXPECT_TRUE(frames.TakeAsks(t0, t0, true).empty()) << "answered since";
}

// The frames asked about were confirmed by a receipt after all (the pod got the frames, but not
// the ask): the ask is over, and a frame sent after it is not given up with it.
TEST(UnconfirmedFramesTest, AnAskEndsWhenReceiptsCoverWhatItAskedAbout) {
  UnconfirmedFrames frames;
  const Clock::time_point t0 = Clock::now();
  const std::vector<uint64_t> asked = PublishSome(&frames, 2, t0);
  frames.TakeAsks(t0, t0, true);
  frames.AskRan("pod-b", 0, t0);
  const std::vector<uint64_t> after = PublishSome(&frames, 2, t0 + milliseconds(100), "n");
  frames.Confirm("pod-b", Receipt{0, asked[0], after[0]});
  EXPECT_TRUE(frames.TakeUnanswered(t0 + milliseconds(5000)).empty());
  EXPECT_EQ(frames.size(), 1u);
  // Asked about again, and unanswered: only what it asked about is given up.
  frames.TakeAsks(t0, t0, true);
  frames.AskRan("pod-b", 0, t0);
  frames.Published("pod-b", 0, frames.NextSequence("pod-b", 0), {"later", ""}, t0);
  EXPECT_EQ(Messages(frames.TakeUnanswered(t0 + milliseconds(5000))),
            (std::vector<std::string>{"n1/"}));
  EXPECT_EQ(frames.size(), 1u);
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

// An ask is answered with the ranges remembered, and the numbers asked about that never came are
// refused from then on: they may still come from a connection their pod gave up on.
TEST(ReceiptsOwedTest, AnAskIsAnsweredWithTheRangesAndFencesTheRest) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  owed.Handled("pod-a", 1, 10, now);
  owed.Handled("pod-a", 1, 11, now);
  owed.Handled("pod-a", 1, 20, now);
  owed.Take(now, kForget);  // sent already: an answer lists them again
  EXPECT_EQ(owed.Ask("pod-a", 1, 25, now), (std::vector<Receipt>{{1, 10, 11}, {1, 20, 20}}));
  EXPECT_FALSE(owed.Handled("pod-a", 1, 21, now)) << "asked about, never came: dropped";
  EXPECT_FALSE(owed.Handled("pod-a", 1, 25, now));
  EXPECT_TRUE(owed.Handled("pod-a", 1, 26, now)) << "sent after the ask";
  EXPECT_EQ(owed.Ask("pod-a", 1, 26, now),
            (std::vector<Receipt>{{1, 10, 11}, {1, 20, 20}, {1, 26, 26}}));
  EXPECT_TRUE(owed.Ask("pod-z", 4, 9, now).empty()) << "a stream never seen";
  EXPECT_FALSE(owed.Handled("pod-z", 4, 9, now));
}

TEST(ReceiptsOwedTest, AnAnswerListsOnlyTheLastRanges) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  for (uint64_t i = 1; i <= 2 * ReceiptsOwed::kRangesKept; ++i)
    owed.Handled("pod-a", 0, 10 * i, now);
  const std::vector<Receipt> handled = owed.Ask("pod-a", 0, 1000, now);
  ASSERT_EQ(handled.size(), ReceiptsOwed::kRangesKept);
  EXPECT_EQ(handled.back(), (Receipt{0, 160, 160}));
}

// A frame this pod could not hand back (its link is down) is taken back: the next range starts
// after it, so its sender's pod takes it for lost.
TEST(ReceiptsOwedTest, AFrameTakenBackIsLeftOutOfTheReceipts) {
  ReceiptsOwed owed;
  const Clock::time_point now = Clock::now();
  owed.Handled("pod-a", 1, 10, now);
  owed.Handled("pod-a", 1, 11, now);
  owed.Unhandle("pod-a", 1, 11);
  owed.Unhandle("pod-a", 1, 9);  // not the last: nothing
  owed.Handled("pod-a", 1, 12, now);
  EXPECT_EQ(owed.Take(now, kForget), (Owed{{"pod-a", {{1, 10, 10}, {1, 12, 12}}}}));
  owed.Handled("pod-a", 2, 5, now);
  owed.Unhandle("pod-a", 2, 5);
  EXPECT_TRUE(owed.empty()) << "a range of one taken back leaves nothing owed";
  owed.Handled("pod-a", 2, 6, now);
  EXPECT_EQ(owed.Take(now, kForget), (Owed{{"pod-a", {{2, 6, 6}}}}));
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
