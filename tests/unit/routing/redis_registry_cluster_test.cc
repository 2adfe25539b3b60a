// RedisRegistry on a Redis Cluster while the cluster changes under it: a slot of the peer buckets
// migrated during traffic (MOVED, ASK, the channel's subscription moving), and a master killed
// in a cluster with one replica each. Every frame must be delivered or its sender told, in order.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "recording_connection.h"
#include "registry_fixture.h"
#include "routing/cluster_slot.h"
#include "routing/key_layout.h"

namespace switchboard::routing {
namespace {

// What bob received and alice was told, frame by frame (frames are numbered from 0).
struct Tally {
  size_t delivered = 0;
  size_t told = 0;
  size_t reordered = 0;
  size_t duplicated = 0;    // delivered twice, or told twice
  size_t false_alarms = 0;  // told, yet delivered: its receipt went with the link (reported only,
                            // as in the fault suite)
  size_t missing = 0;       // neither delivered nor told
  std::string missing_examples;  // the first few of them
};

class RedisRegistryClusterTest : public RegistryFixture {
 protected:
  bool UsesRedis() const override { return true; }
  bool UsesCluster() const override { return true; }

  static bool Up(Registry& pod) { return static_cast<RedisRegistry&>(pod).up(); }

  // The slot of bob's bucket, where his entry, queue and pods' channels for him live.
  static int SlotOfBob() { return KeySlot(KeyLayout("x").Peers(KeyLayout::BucketOf("bob"))); }

  // Sends frame number `sent_` (its ref is the number too), pumping now and then.
  void Send(int count) {
    for (int i = 0; i < count; ++i, ++sent_) {
      Route(a(), "alice", "bob", std::to_string(sent_), std::to_string(sent_));
      if (sent_ % 5 == 0) PumpOnce();
    }
  }

  Tally Count() const {
    Tally tally;
    std::vector<int> delivered(sent_, 0);
    std::vector<int> told(sent_, 0);
    int last = -1;
    for (const std::string& frame : bob_.frames()) {
      const int n = std::stoi(frame);
      ++tally.delivered;
      tally.reordered += n < last ? 1 : 0;
      tally.duplicated += delivered[n]++ > 0 ? 1 : 0;
      last = std::max(last, n);
    }
    for (const std::string& notice : alice_.notices()) {
      const int n = std::stoi(notice.substr(notice.find("ref=") + 4));
      ++tally.told;
      tally.duplicated += told[n]++ > 0 ? 1 : 0;
      tally.false_alarms += delivered[n] > 0 ? 1 : 0;
    }
    for (int n = 0; n < sent_; ++n) {
      if (delivered[n] + told[n] > 0) continue;
      if (++tally.missing <= 10) tally.missing_examples += " " + std::to_string(n);
    }
    return tally;
  }

  // Pumps until every frame sent is delivered or told, or nothing changes for 3 s. (Frames, not
  // outcomes, are counted: a false alarm is two outcomes of one frame.)
  void WaitForEveryOutcome() {
    auto outcomes = [&] { return bob_.frames().size() + alice_.notices().size(); };
    while (Count().missing > 0) {
      const size_t before = outcomes();
      if (!PumpUntilOrFor([&] { return outcomes() > before; }, milliseconds(3000))) break;
    }
  }

  // Every frame delivered or its sender told, in order, once.
  void ExpectNothingLostUnseenOrReordered() {
    const Tally tally = Count();
    RecordProperty("outcome", Describe(tally));
    EXPECT_EQ(tally.missing, 0u) << Describe(tally) << "\n" << RegistryFixture::Describe();
    EXPECT_EQ(tally.reordered, 0u) << Describe(tally);
    EXPECT_EQ(tally.duplicated, 0u) << Describe(tally);
  }

  static std::string Describe(const Tally& tally) {
    return "delivered " + std::to_string(tally.delivered) + ", told " + std::to_string(tally.told) +
           ", missing " + std::to_string(tally.missing) + " (" + tally.missing_examples +
           " ), reordered " + std::to_string(tally.reordered) + ", duplicated " +
           std::to_string(tally.duplicated) + ", false alarms " +
           std::to_string(tally.false_alarms);
  }

  RecordingConnection alice_{"alice", &log_};
  RecordingConnection bob_{"bob", &log_};
  RecordingConnection bob2_{"bob", &log_};
  RecordingConnection carol_{"carol", &log_};
  int sent_ = 0;
};

// The slot of bob's bucket moves from one master to another while alice sends to him: the pods
// follow ASK and MOVED, pod-b's subscription moves with the slot, and not a frame is lost unseen
// or reordered; afterwards frames flow again.
TEST_F(RedisRegistryClusterTest, ABucketSlotMigratedDuringTrafficLosesNothingUnseen) {
  StartPods({.max_queued_per_peer = 100000});
  ASSERT_EQ(Register(a(), "alice", alice_), RegisterResult::kRegistered);
  ASSERT_EQ(Register(b(), "bob", bob_, "bob's token"), RegisterResult::kRegistered);
  Send(200);
  const int slot = SlotOfBob();
  const int from = cluster_.MasterForSlot(slot);
  const int to = (from + 1) % 3;
  std::string error;
  ASSERT_TRUE(cluster_.BeginMigration(slot, from, to, &error)) << error;
  Send(200);
  // One key at a time, with traffic in between: the bucket is split over two nodes for a while.
  for (int moved = 1; moved > 0;) {
    moved = cluster_.MigrateKeys(slot, from, to, 1, &error);
    ASSERT_GE(moved, 0) << error;
    Send(50);
  }
  ASSERT_TRUE(cluster_.FinishMigration(slot, from, to, &error)) << error;
  Send(200);
  ASSERT_TRUE(PumpUntil([&] { return Up(a()) && Up(b()); }, milliseconds(10000),
                        "both pods up after the move"));
  const size_t delivered_before = bob_.frames().size();
  Send(200);
  WaitForEveryOutcome();
  ExpectNothingLostUnseenOrReordered();
  EXPECT_GT(bob_.frames().size(), delivered_before) << "relaying after the move";
  EXPECT_EQ(cluster_.MasterForSlot(slot), to);
}

// A lookup answered "queued": the peer has no entry in Redis (his pod serves him, and claims him
// again at its next heartbeat, as after Redis refused his register step). Meanwhile pod-a learnt
// his pod from a frame of his. What pod-a sends him next must queue behind that frame, not go
// straight to his pod ahead of it. (Redis Cluster restarted empty reordered frames so.)
TEST_F(RedisRegistryClusterTest, AFrameALookupQueuedIsNotOvertakenByAnOwnerLearntMeanwhile) {
  StartPods();
  const KeyLayout layout(prefix_);
  auto master_of = [&](std::string_view peer) {
    return cluster_.MasterForSlot(KeySlot(layout.Peers(KeyLayout::BucketOf(peer))));
  };
  std::string bob = "bob";  // on another node than alice
  for (int i = 2; master_of(bob) == master_of("alice"); ++i) bob = "bob" + std::to_string(i);
  ASSERT_EQ(Register(a(), "alice", alice_), RegisterResult::kRegistered);
  ASSERT_EQ(Register(b(), bob, bob_), RegisterResult::kRegistered);
  ASSERT_EQ(Register(b(), "carol", carol_), RegisterResult::kRegistered);
  // pod-b learns alice's pod from her frame to carol; pod-a learns carol's, not bob's.
  Route(a(), "alice", "carol", "to carol");
  ASSERT_TRUE(PumpUntil([&] { return carol_.frames().size() == 1; }, "carol gets alice's frame"));
  const int bob_node = master_of(bob);
  ASSERT_EQ(cluster_.Run(bob_node, {"HDEL", layout.Peers(KeyLayout::BucketOf(bob)), bob}), "1");
  // bob's node freezes: pod-a's lookup for him waits there, while bob's frame to alice passes
  // through alice's node and tells pod-a where bob is.
  cluster_.Signal(bob_node, SIGSTOP);
  Route(a(), "alice", bob, "1");
  Route(b(), bob, "alice", "hello");
  const bool learnt =
      PumpUntil([&] { return alice_.frames().size() == 1; }, "alice gets bob's frame");
  cluster_.Signal(bob_node, SIGCONT);
  ASSERT_TRUE(learnt);
  ASSERT_TRUE(PumpUntil([&] { return a().stats().queued == 1; }, "the lookup queues frame 1"));
  Route(a(), "alice", bob, "2");
  ASSERT_TRUE(PumpUntil([&] { return a().stats().queued == 2; }, "frame 2 queues behind it"));
  EXPECT_TRUE(bob_.frames().empty()) << RegistryFixture::Describe();
  // bob's next claim takes the queue: both frames, in order.
  b().Unregister(bob, &bob_, {});
  ASSERT_EQ(Register(b(), bob, bob2_), RegisterResult::kRegistered);
  ASSERT_TRUE(PumpUntil([&] { return bob2_.frames().size() == 2; }, "bob gets the queue"));
  EXPECT_EQ(bob2_.frames(), (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(alice_.notices().empty()) << RegistryFixture::Describe();
}

class RedisRegistryFailoverTest : public RedisRegistryClusterTest {
 protected:
  int ClusterReplicas() const override { return 1; }
};

// The master of bob's bucket is killed: until its replica takes over, frames to bob are delivered
// or alice is told; after, they are delivered again.
TEST_F(RedisRegistryFailoverTest, AMasterKilledLosesNothingUnseenAndRelayingResumes) {
  StartPods({.max_queued_per_peer = 100000});
  ASSERT_EQ(Register(a(), "alice", alice_), RegisterResult::kRegistered);
  ASSERT_EQ(Register(b(), "bob", bob_, "bob's token"), RegisterResult::kRegistered);
  Send(200);
  const int master = cluster_.MasterForSlot(SlotOfBob());
  cluster_.Kill(master);
  // Traffic while the cluster notices and promotes the replica (a couple of seconds).
  const auto until = Clock::now() + milliseconds(1500);
  while (Clock::now() < until) Send(10);
  std::string error;
  ASSERT_TRUE(cluster_.WaitForFailover(master, milliseconds(20000), &error)) << error;
  ASSERT_TRUE(PumpUntil([&] { return Up(a()) && Up(b()); }, milliseconds(15000),
                        "both pods up on the new master"));
  // bob is claimed again once pod-b is back: wait until a frame gets through.
  const size_t delivered_before = bob_.frames().size();
  for (const auto deadline = Clock::now() + milliseconds(10000);
       bob_.frames().size() == delivered_before && Clock::now() < deadline;) {
    Send(1);
    PumpFor(milliseconds(20));
  }
  Send(200);
  WaitForEveryOutcome();
  ExpectNothingLostUnseenOrReordered();
  EXPECT_GT(bob_.frames().size(), delivered_before) << "relaying after the failover";
}

}  // namespace
}  // namespace switchboard::routing
