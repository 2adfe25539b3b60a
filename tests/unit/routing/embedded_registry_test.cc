#include "routing/embedded_registry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recording_connection.h"

namespace switchboard::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr Clock::duration kExpire = milliseconds(5000);
constexpr size_t kMaxQueued = 4;
const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

RoutedFrame MakeFrame(std::string_view body, Clock::time_point accepted_at = kT0) {
  protocol::Frame frame;
  frame.Append(body);
  return RoutedFrame{std::move(frame), accepted_at};
}

std::string StatsString(const RoutingStats& s) {
  return "relayed_local=" + std::to_string(s.relayed_local) +
         " relayed_remote=" + std::to_string(s.relayed_remote) +
         " queued=" + std::to_string(s.queued) + " expired=" + std::to_string(s.expired) +
         " queue_rejected=" + std::to_string(s.queue_rejected) +
         " peers=" + std::to_string(s.peers) + " queued_now=" + std::to_string(s.queued_now);
}

class EmbeddedRegistryTest : public testing::Test {
 protected:
  // Registers `connection` as `peer`; logs "done <peer> <result>" when the callback runs.
  RegisterResult Register(std::string_view peer, PeerConnection& connection,
                          std::string_view token = {}) {
    std::optional<RegisterResult> result;
    registry_.Register(peer, token, &connection, [&, peer = std::string(peer)](RegisterResult r) {
      EXPECT_FALSE(result.has_value()) << "done called twice";
      result = r;
      log_.push_back("done " + peer + " " + ResultName(r));
    });
    EXPECT_TRUE(result.has_value()) << "done not called";
    return result.value_or(RegisterResult::kUnavailable);
  }

  // Routes a frame whose body is `body`, accepted at `at`.
  void Route(std::string_view from, std::string_view to, std::string_view body,
             std::string_view ref = {}, Clock::time_point at = kT0) {
    registry_.Route(from, to, MakeFrame(body, at), ref);
  }

  // Returns the log so far and clears it.
  Log TakeLog() { return std::exchange(log_, {}); }

  std::string Stats() const { return StatsString(registry_.stats()); }

  Log log_;
  RecordingConnection alice_{"alice", &log_};
  RecordingConnection bob_{"bob", &log_};
  RecordingConnection bob2_{"bob2", &log_};
  RecordingConnection carol_{"carol", &log_};
  EmbeddedRegistry registry_{{.expire = kExpire, .max_queued_per_peer = kMaxQueued}};
};

TEST_F(EmbeddedRegistryTest, StartsEmpty) {
  EXPECT_EQ(Stats(),
            "relayed_local=0 relayed_remote=0 queued=0 expired=0 queue_rejected=0 peers=0 "
            "queued_now=0");
}

TEST_F(EmbeddedRegistryTest, RoutesToARegisteredPeerLocally) {
  EXPECT_EQ(Register("bob", bob_), RegisterResult::kRegistered);
  Route("alice", "bob", "f1");
  Route("alice", "bob", "f2");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob got f1", "bob got f2"}));
  EXPECT_EQ(Stats(),
            "relayed_local=2 relayed_remote=0 queued=0 expired=0 queue_rejected=0 peers=1 "
            "queued_now=0");
}

TEST_F(EmbeddedRegistryTest, QueuedFramesFollowTheCallbackInOrderBeforeNewerFrames) {
  Register("alice", alice_);
  Route("alice", "bob", "f1");
  Route("carol", "bob", "f2", {}, kT0 + milliseconds(1));
  Route("alice", "bob", "f3", {}, kT0 + milliseconds(2));
  EXPECT_EQ(TakeLog(), (Log{"done alice registered"}));
  EXPECT_EQ(Stats(),
            "relayed_local=0 relayed_remote=0 queued=3 expired=0 queue_rejected=0 peers=1 "
            "queued_now=3");

  EXPECT_EQ(Register("bob", bob_), RegisterResult::kRegistered);
  Route("alice", "bob", "f4");
  EXPECT_EQ(TakeLog(),
            (Log{"done bob registered", "bob got f1", "bob got f2", "bob got f3", "bob got f4"}));
  EXPECT_EQ(Stats(),
            "relayed_local=4 relayed_remote=0 queued=3 expired=0 queue_rejected=0 peers=2 "
            "queued_now=0");
}

TEST_F(EmbeddedRegistryTest, NothingExpiresBeforeTheDeadline) {
  Register("alice", alice_);
  Route("alice", "bob", "f1", "1");
  TakeLog();
  registry_.Tick(kT0 + kExpire - nanoseconds(1));
  EXPECT_EQ(TakeLog(), Log{});
  Register("bob", bob_);
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob got f1"}));
}

TEST_F(EmbeddedRegistryTest, ExpiryNotifiesTheSenderOncePerTarget) {
  Register("alice", alice_);
  Route("alice", "bob", "f1", "1");
  Route("alice", "bob", "f2", "2", kT0 + milliseconds(1000));
  Route("alice", "carol", "f3", "3", kT0 + milliseconds(1000));
  TakeLog();

  registry_.Tick(kT0 + kExpire);
  EXPECT_EQ(TakeLog(), (Log{"alice notice bob peer-unavailable ref="}));
  registry_.Tick(kT0 + kExpire + milliseconds(1000));
  EXPECT_EQ(TakeLog(), (Log{"alice notice carol peer-unavailable ref="}));
  registry_.Tick(kT0 + 10 * kExpire);
  EXPECT_EQ(TakeLog(), Log{});
  EXPECT_EQ(Stats(),
            "relayed_local=0 relayed_remote=0 queued=3 expired=3 queue_rejected=0 peers=1 "
            "queued_now=0");
}

TEST_F(EmbeddedRegistryTest, ExpiredFramesAreNotDeliveredWhenTheTargetComesLater) {
  Register("alice", alice_);
  Route("alice", "bob", "f1");
  registry_.Tick(kT0 + kExpire);
  EXPECT_EQ(TakeLog(), (Log{"done alice registered", "alice notice bob peer-unavailable ref="}));
  Register("bob", bob_);
  Route("alice", "bob", "f2");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob got f2"}));
}

TEST_F(EmbeddedRegistryTest, SenderThatLeftIsNotNotified) {
  auto gone = std::make_unique<RecordingConnection>("gone", &log_);
  Register("gone", *gone);
  Route("gone", "bob", "f1");
  registry_.Unregister("gone", gone.get(), {});
  gone.reset();  // ASan reports any later use.
  TakeLog();

  registry_.Tick(kT0 + kExpire);
  EXPECT_EQ(TakeLog(), Log{});
  EXPECT_EQ(Stats(),
            "relayed_local=0 relayed_remote=0 queued=1 expired=1 queue_rejected=0 peers=0 "
            "queued_now=0");
}

TEST_F(EmbeddedRegistryTest, FullQueueNotifiesTheSenderAtOnceWithTheRef) {
  Register("alice", alice_);
  for (size_t i = 0; i < kMaxQueued; ++i) Route("alice", "bob", "f" + std::to_string(i));
  Route("alice", "bob", "over", R"("m5")");
  EXPECT_EQ(TakeLog(),
            (Log{"done alice registered", R"(alice notice bob peer-unavailable ref="m5")"}));
  EXPECT_EQ(Stats(),
            "relayed_local=0 relayed_remote=0 queued=4 expired=0 queue_rejected=1 peers=1 "
            "queued_now=4");
  Register("bob", bob_);
  EXPECT_EQ(TakeLog(),
            (Log{"done bob registered", "bob got f0", "bob got f1", "bob got f2", "bob got f3"}));
}

TEST_F(EmbeddedRegistryTest, DuplicateIdWithoutTokenIsTaken) {
  Register("bob", bob_);
  EXPECT_EQ(Register("bob", bob2_), RegisterResult::kIdTaken);
  Route("alice", "bob", "f1");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "done bob id-taken", "bob got f1"}));
  EXPECT_EQ(registry_.stats().peers, 1u);
}

TEST_F(EmbeddedRegistryTest, DuplicateIdWithoutTokenIsTakenEvenIfTheHolderHasOne) {
  Register("bob", bob_, "secret");
  EXPECT_EQ(Register("bob", bob2_), RegisterResult::kIdTaken);
  Route("alice", "bob", "f1");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "done bob id-taken", "bob got f1"}));
}

TEST_F(EmbeddedRegistryTest, DuplicateIdWithAnotherTokenIsTaken) {
  Register("bob", bob_, "secret");
  EXPECT_EQ(Register("bob", bob2_, "guess!"), RegisterResult::kIdTaken);
  Route("alice", "bob", "f1");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "done bob id-taken", "bob got f1"}));
}

TEST_F(EmbeddedRegistryTest, DuplicateIdWithTheSameTokenTakesOver) {
  Register("bob", bob_, "secret");
  EXPECT_EQ(Register("bob", bob2_, "secret"), RegisterResult::kTookOver);
  Route("alice", "bob", "f1");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob evicted replaced", "done bob took-over",
                            "bob2 got f1"}));

  registry_.Unregister("bob", &bob_, {});  // the old connection goes away
  Route("alice", "bob", "f2");
  EXPECT_EQ(TakeLog(), (Log{"bob2 got f2"}));
  EXPECT_EQ(Stats(),
            "relayed_local=2 relayed_remote=0 queued=0 expired=0 queue_rejected=0 peers=1 "
            "queued_now=0");
}

TEST_F(EmbeddedRegistryTest, TheNewHolderKeepsTheToken) {
  Register("bob", bob_, "secret");
  Register("bob", bob2_, "secret");
  RecordingConnection bob3("bob3", &log_);
  EXPECT_EQ(Register("bob", bob3, "secret"), RegisterResult::kTookOver);
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob evicted replaced", "done bob took-over",
                            "bob2 evicted replaced", "done bob took-over"}));
  registry_.Unregister("bob", &bob3, {});
}

TEST_F(EmbeddedRegistryTest, UnregisteredPeerGetsQueuedFramesAgain) {
  Register("bob", bob_);
  registry_.Unregister("bob", &bob_, {});
  Route("alice", "bob", "f1");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered"}));
  EXPECT_EQ(Stats(),
            "relayed_local=0 relayed_remote=0 queued=1 expired=0 queue_rejected=0 peers=0 "
            "queued_now=1");
  Register("bob", bob2_);
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob2 got f1"}));
}

TEST_F(EmbeddedRegistryTest, UnregisterByANonHolderDoesNothing) {
  Register("bob", bob_);
  registry_.Unregister("bob", &bob2_, {});
  registry_.Unregister("carol", &bob_, {});
  Route("alice", "bob", "f1");
  EXPECT_EQ(TakeLog(), (Log{"done bob registered", "bob got f1"}));
  EXPECT_EQ(registry_.stats().peers, 1u);
}

TEST_F(EmbeddedRegistryTest, StatsCountEveryOutcome) {
  Register("alice", alice_);
  Register("carol", carol_);
  Route("alice", "carol", "local");
  for (size_t i = 0; i < kMaxQueued + 2; ++i) Route("alice", "bob", "q" + std::to_string(i));
  Route("carol", "dave", "d1");
  EXPECT_EQ(Stats(),
            "relayed_local=1 relayed_remote=0 queued=5 expired=0 queue_rejected=2 peers=2 "
            "queued_now=5");
  registry_.Tick(kT0 + kExpire);
  EXPECT_EQ(Stats(),
            "relayed_local=1 relayed_remote=0 queued=5 expired=5 queue_rejected=2 peers=2 "
            "queued_now=0");
  registry_.Unregister("carol", &carol_, {});
  EXPECT_EQ(registry_.stats().peers, 1u);
}

TEST(EmbeddedRegistryOrderTest, KeepsTheOrderOfTenThousandFrames) {
  constexpr int kFrames = 10000;
  Log log;
  RecordingConnection bob("bob", &log);
  // One sender queues them all: more than its production budget.
  EmbeddedRegistry registry({.expire = kExpire,
                             .max_queued_per_peer = kFrames,
                             .queue_budget = {.frames_per_sender = kFrames,
                                              .bytes_per_sender = 1 << 30,
                                              .frames_total = kFrames,
                                              .bytes_total = 1 << 30}});
  Log expected;
  for (int i = 0; i < kFrames; ++i) {
    if (i == kFrames / 2) registry.Register("bob", "", &bob, [](RegisterResult) {});
    registry.Route("alice", "bob", MakeFrame(std::to_string(i)), {});
    expected.push_back("bob got " + std::to_string(i));
  }
  EXPECT_EQ(log, expected);
  EXPECT_EQ(registry.stats().relayed_local, static_cast<uint64_t>(kFrames));
  EXPECT_EQ(registry.stats().queued, static_cast<uint64_t>(kFrames / 2));
}

}  // namespace
}  // namespace switchboard::routing
