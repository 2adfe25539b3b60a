#include "routing/detour_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

using std::chrono::seconds;

HeldFrame Frame(std::string body) { return HeldFrame{"alice", std::move(body), {}, true}; }

std::vector<std::string> Bodies(const DetourTable::Ready& ready) {
  std::vector<std::string> bodies;
  for (const HeldFrame& frame : ready.frames) bodies.push_back(frame.frame);
  return bodies;
}

const Clock::time_point kNow = Clock::now();

TEST(DetourTableTest, WaitsForThePublishesSentBeforeIt) {
  DetourTable detours;
  detours.Open("bob", /*wait_for=*/5, kNow + seconds(6));
  EXPECT_TRUE(detours.IsOpen("bob"));
  EXPECT_TRUE(detours.TakeReady(4, kNow).empty());
  const std::vector<DetourTable::Ready> ready = detours.TakeReady(5, kNow);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].target, "bob");
  EXPECT_FALSE(detours.IsOpen("bob"));
}

// Frames that came back are older than any routed while the detour is open, whatever order
// they arrived in.
TEST(DetourTableTest, ReturnedFramesComeBeforeHeldOnes) {
  DetourTable detours;
  detours.Open("bob", 0, kNow + seconds(6));
  ASSERT_TRUE(detours.AwaitFence("bob", "pod-2"));
  detours.Hold("bob", Frame("new 1"));
  detours.AddReturned("bob", Frame("old 1"));
  detours.Hold("bob", Frame("new 2"));
  detours.AddReturned("bob", Frame("old 2"));
  EXPECT_TRUE(detours.TakeReady(100, kNow).empty()) << "the fence is not answered yet";
  detours.FenceAnswered("bob", "pod-2");
  const std::vector<DetourTable::Ready> ready = detours.TakeReady(100, kNow);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(Bodies(ready[0]), (std::vector<std::string>{"old 1", "old 2", "new 1", "new 2"}));
}

TEST(DetourTableTest, WaitsForEveryFence) {
  DetourTable detours;
  detours.Open("bob", 0, kNow + seconds(6));
  EXPECT_TRUE(detours.AwaitFence("bob", "pod-2"));
  EXPECT_FALSE(detours.AwaitFence("bob", "pod-2")) << "one fence per pod";
  EXPECT_TRUE(detours.AwaitFence("bob", "pod-3"));
  detours.FenceAnswered("bob", "pod-3");
  detours.FenceAnswered("bob", "pod-9");  // not awaited: changes nothing
  EXPECT_TRUE(detours.TakeReady(0, kNow).empty());
  detours.FenceAnswered("bob", "pod-2");
  EXPECT_EQ(detours.TakeReady(0, kNow).size(), 1u);
}

TEST(DetourTableTest, WaitsForLookups) {
  DetourTable detours;
  detours.Open("bob", 0, kNow + seconds(6));
  detours.AwaitLookups("bob");
  detours.Hold("bob", Frame("held"));
  EXPECT_TRUE(detours.TakeReady(0, kNow).empty());
  detours.LookupsDone("bob");
  const std::vector<DetourTable::Ready> ready = detours.TakeReady(0, kNow);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(Bodies(ready[0]), (std::vector<std::string>{"held"}));
}

// Opening again keeps what the detour holds and waits for the later of the two publishes; its
// deadline stays the first one.
TEST(DetourTableTest, OpeningAgainExtendsTheWait) {
  DetourTable detours;
  detours.Open("bob", 3, kNow + seconds(6));
  detours.Hold("bob", Frame("held"));
  detours.Open("bob", 9, kNow + seconds(60));
  detours.Open("bob", 2, kNow + seconds(60));
  EXPECT_TRUE(detours.TakeReady(8, kNow).empty());
  ASSERT_EQ(detours.TakeReady(9, kNow).size(), 1u);
  detours.Open("carol", 100, kNow + seconds(6));
  size_t expired = 0;
  EXPECT_TRUE(detours.TakeReady(0, kNow + seconds(5), &expired).empty());
  EXPECT_EQ(expired, 0u);
}

TEST(DetourTableTest, EndsAtItsDeadlineWhateverItWaitsFor) {
  DetourTable detours;
  detours.Open("bob", 100, kNow + seconds(6));
  detours.AwaitFence("bob", "pod-2");
  detours.Hold("bob", Frame("held"));
  detours.Open("carol", 0, kNow + seconds(6));  // answered: not counted as expired
  size_t expired = 7;
  EXPECT_EQ(detours.TakeReady(0, kNow + seconds(1), &expired).size(), 1u);
  EXPECT_EQ(expired, 0u);
  const std::vector<DetourTable::Ready> ready = detours.TakeReady(0, kNow + seconds(6), &expired);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].target, "bob");
  EXPECT_EQ(expired, 1u);
  EXPECT_TRUE(detours.empty());
}

TEST(DetourTableTest, CallsForAClosedDetourChangeNothing) {
  DetourTable detours;
  EXPECT_FALSE(detours.AwaitFence("bob", "pod-2"));
  detours.FenceAnswered("bob", "pod-2");
  detours.AwaitLookups("bob");
  detours.LookupsDone("bob");
  detours.Hold("bob", Frame("x"));
  detours.AddReturned("bob", Frame("y"));
  EXPECT_TRUE(detours.empty());
  EXPECT_TRUE(detours.TakeReady(0, kNow).empty());
}

// Frames whose publish reached nobody, then overheard: a newer publish reached the pod after it
// subscribed again. They leave the detour for their senders to be told; the rest stays in order.
TEST(DetourTableTest, UnheardFramesCanBeTakenBack) {
  DetourTable detours;
  detours.Open("bob", 3, kNow + seconds(6));
  detours.AddReturned("bob", Frame("bounced"));
  detours.AddUnheard("bob", Frame("unheard 1"));
  detours.AddUnheard("bob", HeldFrame{"carol", "carol's unheard", {}, true});
  detours.AddUnheard("bob", Frame("unheard 2"));
  detours.Hold("bob", Frame("new"));
  std::vector<std::string> taken;
  for (const HeldFrame& frame : detours.TakeUnheard("bob", "alice")) taken.push_back(frame.frame);
  EXPECT_EQ(taken, (std::vector<std::string>{"unheard 1", "unheard 2"}));
  EXPECT_TRUE(detours.TakeUnheard("bob", "alice").empty());
  EXPECT_TRUE(detours.TakeUnheard("dave", "alice").empty()) << "no detour";
  const std::vector<DetourTable::Ready> ready = detours.TakeReady(3, kNow);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(Bodies(ready[0]), (std::vector<std::string>{"bounced", "carol's unheard", "new"}))
      << "another sender's frames still go again, in order";
}

}  // namespace
}  // namespace switchboard::routing
