#include "routing/subscription_probe.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;
using Action = SubscriptionProbe::Action;
using Seen = SubscriptionProbe::Seen;

const Clock::time_point kT0 = Clock::time_point() + std::chrono::hours(1);
constexpr uint64_t kIncarnation = 0xab;
const std::string kOne = "P00000000000000ab 1";
const std::string kTwo = "P00000000000000ab 2";
const std::string kThree = "P00000000000000ab 3";

// A decision as one line: "none", "send #<channel> <message>", "reconnect: <reason>".
std::string Describe(const SubscriptionProbe::Decision& decision) {
  switch (decision.action) {
    case Action::kNone:
      return "none";
    case Action::kSend:
      return "send #" + std::to_string(decision.channel) + " " + decision.message;
    case Action::kReconnect:
      return "reconnect: " + decision.reason;
  }
  return "?";
}

std::string Name(Seen seen) {
  switch (seen) {
    case Seen::kAnswered:
      return "answered";
    case Seen::kDuplicate:
      return "duplicate";
    case Seen::kLate:
      return "late";
    case Seen::kForeign:
      return "foreign";
  }
  return "?";
}

// Periods of 5 s, deadlines of 3 s, over 3 channels.
SubscriptionProbe::Options Options(size_t channels = 3) {
  return SubscriptionProbe::Options{
      .period = milliseconds(5000), .deadline = milliseconds(3000), .channels = channels};
}

class SubscriptionProbeTest : public ::testing::Test {
 protected:
  std::string Tick() { return Describe(probe_.Tick(now_)); }
  std::string Echo(std::string_view message) { return Name(probe_.OnMessage(message, now_)); }
  std::string Published(std::string_view message, long long receivers) {
    return Describe(probe_.OnPublished(message, receivers));
  }
  milliseconds UntilNextCheck() const {
    return std::chrono::duration_cast<milliseconds>(probe_.next_check() - now_);
  }

  Clock::time_point now_ = kT0;
  SubscriptionProbe probe_{Options(), kIncarnation};
};

TEST_F(SubscriptionProbeTest, PausedUntilResumed) {
  EXPECT_TRUE(probe_.paused());
  EXPECT_EQ(Tick(), "none");
  EXPECT_EQ(probe_.next_check(), Clock::time_point::max());
  now_ += milliseconds(60000);
  EXPECT_EQ(Tick(), "none");
  EXPECT_EQ(probe_.sent(), 0u);
}

TEST_F(SubscriptionProbeTest, TheFirstProbeGoesAtOnce) {
  probe_.Resume(now_);
  EXPECT_FALSE(probe_.paused());
  EXPECT_EQ(UntilNextCheck(), milliseconds(0));
  EXPECT_EQ(Tick(), "send #0 " + kOne);
  EXPECT_EQ(probe_.sent(), 1u);
  EXPECT_EQ(UntilNextCheck(), milliseconds(3000)) << "the deadline of the probe in flight";
  EXPECT_EQ(Tick(), "none") << "one probe in flight at a time";
}

TEST_F(SubscriptionProbeTest, MessagesCarryTheIncarnationAndANumber) {
  EXPECT_EQ(SubscriptionProbe::MessageFor(0xab, 1), kOne);
  EXPECT_EQ(SubscriptionProbe::MessageFor(0, 42), "P0000000000000000 42");
  EXPECT_EQ(SubscriptionProbe::MessageFor(0xFEDCBA9876543210ULL, 18446744073709551615ULL),
            "Pfedcba9876543210 18446744073709551615");
  EXPECT_TRUE(SubscriptionProbe::IsProbe(kOne));
  EXPECT_TRUE(SubscriptionProbe::IsProbe("P"));
  EXPECT_FALSE(SubscriptionProbe::IsProbe(""));
  EXPECT_FALSE(SubscriptionProbe::IsProbe("Dpeer pod sender {}"));
  EXPECT_FALSE(SubscriptionProbe::IsProbe("p00000000000000ab 1"));
}

TEST_F(SubscriptionProbeTest, AnsweredThenTheNextAfterThePeriod) {
  probe_.Resume(now_);
  Tick();
  now_ += milliseconds(4);
  EXPECT_EQ(Echo(kOne), "answered");
  EXPECT_EQ(probe_.answered(), 1u);
  EXPECT_EQ(probe_.last_round_trip(), milliseconds(4));
  EXPECT_EQ(UntilNextCheck(), milliseconds(4996)) << "a period after the probe was sent";
  now_ += milliseconds(4995);
  EXPECT_EQ(Tick(), "none");
  now_ += milliseconds(1);
  EXPECT_EQ(Tick(), "send #1 " + kTwo) << "the next channel";
}

TEST_F(SubscriptionProbeTest, TheChannelsRotate) {
  probe_.Resume(now_);
  std::vector<std::string> sent;
  for (int i = 0; i < 5; ++i) {
    const SubscriptionProbe::Decision decision = probe_.Tick(now_);
    ASSERT_EQ(decision.action, Action::kSend);
    sent.push_back("#" + std::to_string(decision.channel));
    EXPECT_EQ(probe_.OnMessage(decision.message, now_), Seen::kAnswered);
    now_ += milliseconds(5000);
  }
  EXPECT_EQ(sent, (std::vector<std::string>{"#0", "#1", "#2", "#0", "#1"}));
}

TEST_F(SubscriptionProbeTest, ALostProbeMeansReconnect) {
  probe_.Resume(now_);
  Tick();
  now_ += milliseconds(2999);
  EXPECT_EQ(Tick(), "none");
  now_ += milliseconds(1);
  EXPECT_EQ(Tick(), "reconnect: probe 1 on the pod's channel #0 did not come back within 3000 ms");
  EXPECT_EQ(probe_.lost(), 1u);
  EXPECT_TRUE(probe_.paused()) << "until the link is up again";
  EXPECT_EQ(Tick(), "none") << "told once";
  now_ += milliseconds(10000);
  EXPECT_EQ(Tick(), "none");
}

TEST_F(SubscriptionProbeTest, ALateTickStillCatchesTheLoss) {
  probe_.Resume(now_);
  Tick();
  now_ += milliseconds(9000);  // the loop stalled
  EXPECT_EQ(Tick(), "reconnect: probe 1 on the pod's channel #0 did not come back within 3000 ms");
}

TEST_F(SubscriptionProbeTest, AnEchoAfterTheVerdictIsLate) {
  probe_.Resume(now_);
  Tick();
  now_ += milliseconds(3000);
  Tick();  // reconnect
  EXPECT_EQ(Echo(kOne), "late");
  probe_.Resume(now_);
  EXPECT_EQ(Echo(kOne), "late") << "resumed, nothing in flight yet";
  EXPECT_EQ(Tick(), "send #1 " + kTwo) << "numbers never repeat";
  EXPECT_EQ(Echo(kOne), "late");
  EXPECT_EQ(Tick(), "none") << "probe 2 is still in flight";
  EXPECT_EQ(Echo(kTwo), "answered");
  EXPECT_EQ(probe_.answered(), 1u);
  EXPECT_EQ(probe_.lost(), 1u);
}

TEST_F(SubscriptionProbeTest, DuplicatesAreIgnored) {
  probe_.Resume(now_);
  Tick();
  EXPECT_EQ(Echo(kOne), "answered");
  EXPECT_EQ(Echo(kOne), "duplicate");
  EXPECT_EQ(Echo(kOne), "duplicate");
  EXPECT_EQ(probe_.answered(), 1u);
  now_ += milliseconds(5000);
  Tick();  // probe 2 in flight
  EXPECT_EQ(Echo(kOne), "duplicate") << "the last answered one, again";
  EXPECT_EQ(Tick(), "none") << "probe 2 still in flight";
  EXPECT_EQ(Echo(kTwo), "answered");
  EXPECT_EQ(Echo(kOne), "late") << "older than the last answered one";
}

TEST_F(SubscriptionProbeTest, ForeignMessagesAreIgnored) {
  probe_.Resume(now_);
  Tick();
  for (std::string_view foreign : {
           "P00000000000000ac 1",   // another incarnation
           "P00000000000000ab 2",   // a number never sent
           "P00000000000000AB 1",   // upper-case hex: not how this process writes it
           "P",                     // malformed from here on
           "P00000000000000ab",     //
           "P00000000000000ab ",    //
           "P00000000000000ab1",    //
           "P00000000000000ab  1",  //
           "P00000000000000ab 01",  //
           "P00000000000000ab 0",   //
           "P00000000000000ab 1 ",  //
           "P00000000000000ab 1x",  //
           "P00000000000000ab -1",  //
           "P0000000000000ab 1",    // 15 hex digits
           "P000000000000000ab 1",  // 17
           "P00000000000000ab 99999999999999999999",  // overflows 64 bits
           "X00000000000000ab 1",                     // not a probe at all
           "",
       }) {
    EXPECT_EQ(Echo(foreign), "foreign") << foreign;
  }
  EXPECT_EQ(Echo(kOne), "answered") << "the probe in flight was not disturbed";
}

TEST_F(SubscriptionProbeTest, PausedWhileTheLinkIsDown) {
  probe_.Resume(now_);
  Tick();
  probe_.Pause();
  EXPECT_TRUE(probe_.paused());
  now_ += milliseconds(60000);
  EXPECT_EQ(Tick(), "none") << "no verdict on a probe sent before the link went down";
  EXPECT_EQ(probe_.lost(), 0u);
  EXPECT_EQ(Echo(kOne), "late") << "forgotten";
  probe_.Resume(now_);
  EXPECT_EQ(Tick(), "send #1 " + kTwo) << "at once on resuming";
  EXPECT_EQ(Echo(kTwo), "answered");
}

TEST_F(SubscriptionProbeTest, ResumeRestartsTheCadence) {
  probe_.Resume(now_);
  Tick();
  Echo(kOne);
  now_ += milliseconds(1000);
  probe_.Pause();
  probe_.Resume(now_);
  EXPECT_EQ(Tick(), "send #1 " + kTwo) << "the new link is checked at once";
}

TEST_F(SubscriptionProbeTest, APublishThatReachedNobodyMeansReconnectAtOnce) {
  probe_.Resume(now_);
  Tick();
  EXPECT_EQ(Published(kOne, 0),
            "reconnect: the PUBLISH of probe 1 on the pod's channel #0 reached no subscriber");
  EXPECT_TRUE(probe_.paused());
  EXPECT_EQ(probe_.lost(), 1u);
  now_ += milliseconds(3000);
  EXPECT_EQ(Tick(), "none") << "told once";
}

TEST_F(SubscriptionProbeTest, OtherPublishRepliesChangeNothing) {
  probe_.Resume(now_);
  EXPECT_EQ(Published(kOne, 0), "none") << "not sent yet";
  Tick();
  EXPECT_EQ(Published(kOne, 1), "none");
  EXPECT_EQ(Published(kOne, 3), "none") << "an operator's redis-cli may listen too";
  EXPECT_EQ(Published("P00000000000000ac 1", 0), "none") << "not this process's probe";
  EXPECT_EQ(Published("garbage", 0), "none");
  EXPECT_EQ(Published(kTwo, 0), "none") << "never sent";
  EXPECT_EQ(Echo(kOne), "answered");
  EXPECT_EQ(Published(kOne, 0), "none") << "answered already: the echo is what counts";
  now_ += milliseconds(5000);
  Tick();
  probe_.Pause();
  EXPECT_EQ(Published(kTwo, 0), "none") << "paused: the link is down anyway";
  EXPECT_EQ(probe_.lost(), 0u);
}

TEST(SubscriptionProbeDeadlineTest, ADeadlineLongerThanThePeriodDelaysTheNextProbe) {
  SubscriptionProbe probe(
      {.period = milliseconds(1000), .deadline = milliseconds(4000), .channels = 1}, 1);
  Clock::time_point now = kT0;
  probe.Resume(now);
  EXPECT_EQ(Describe(probe.Tick(now)), "send #0 P0000000000000001 1");
  now += milliseconds(2500);
  EXPECT_EQ(Describe(probe.Tick(now)), "none") << "due, but one is in flight";
  EXPECT_EQ(probe.OnMessage("P0000000000000001 1", now), Seen::kAnswered);
  EXPECT_EQ(probe.next_check(), kT0 + milliseconds(1000)) << "overdue";
  EXPECT_EQ(Describe(probe.Tick(now)), "send #0 P0000000000000001 2") << "one channel";
}

TEST(SubscriptionProbeChannelsTest, NoChannelsCountsAsOne) {
  SubscriptionProbe probe(Options(0), 7);
  probe.Resume(kT0);
  EXPECT_EQ(Describe(probe.Tick(kT0)), "send #0 P0000000000000007 1");
  EXPECT_EQ(probe.OnMessage("P0000000000000007 1", kT0), Seen::kAnswered);
  EXPECT_EQ(Describe(probe.Tick(kT0 + milliseconds(5000))), "send #0 P0000000000000007 2");
}

TEST(SubscriptionProbeIncarnationTest, TwoProcessesOnOneChannelIgnoreEachOther) {
  SubscriptionProbe old_process(Options(1), 1);
  SubscriptionProbe new_process(Options(1), 2);
  old_process.Resume(kT0);
  new_process.Resume(kT0);
  const std::string from_old = old_process.Tick(kT0).message;
  const std::string from_new = new_process.Tick(kT0).message;
  // Both subscribe to the channel: each sees both messages.
  EXPECT_EQ(new_process.OnMessage(from_old, kT0), Seen::kForeign);
  EXPECT_EQ(old_process.OnMessage(from_new, kT0), Seen::kForeign);
  EXPECT_EQ(Describe(new_process.Tick(kT0 + milliseconds(3000))),
            "reconnect: probe 1 on the pod's channel #0 did not come back within 3000 ms")
      << "the other's probe is no answer to this one";
  EXPECT_EQ(old_process.OnMessage(from_old, kT0), Seen::kAnswered);
}

}  // namespace
}  // namespace switchboard::routing
