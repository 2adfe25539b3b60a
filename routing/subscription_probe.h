// Whether the pod's own subscription still delivers: the pod publishes a probe on one of its own
// channels now and then, and expects to hear it back.
//
// A link can look healthy while its subscription is dead: commands are answered, publishes
// succeed, the liveness key is set, yet nothing reaches the subscriber (centrifugal/centrifugo
// #1189: after a Sentinel failover the subscriber's reconnect wedged, publishes went on
// succeeding and the pod delivered nothing, its health check green). Only traffic through the
// subscription itself shows that it works. So every `period` while the link is up, a probe with
// a fresh nonce goes out on the pod's channel; if it has not come back within `deadline`, or if
// PUBLISH says nobody received it, the link must be treated as lost: reconnect, and (with
// Sentinel) resolve the master again.
//
// Pure bookkeeping: no I/O, no clock of its own (the time comes in with every call). The I/O side
// publishes what Tick() hands it, passes every probe message the subscription delivers to
// OnMessage(), the PUBLISH reply to OnPublished(), and reconnects when told to.
//
// One probe is in flight at a time. Its nonce is "<incarnation> <number>": the incarnation, a
// random number the process picks once, tells this process's probes from those of any other
// process that could share the channel (an older incarnation of the same pod id, an operator's
// redis-cli); the number grows by one per probe and never repeats, so an echo of an earlier
// probe (late, or delivered twice) is recognised and ignored, never taken for the current one.
// The channel rotates over the pod's channels, one per probe, so that every subscription is
// checked in turn, not just the first.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "routing/routed_frame.h"

namespace switchboard::routing {

class SubscriptionProbe {
 public:
  struct Options {
    // From one probe sent to the next (the next waits for the one in flight, if `deadline` is
    // longer).
    std::chrono::milliseconds period{5000};
    // A probe not back within this is lost: the subscription does not deliver.
    std::chrono::milliseconds deadline{3000};
    // How many channels the pod listens on (the probes rotate over indices 0..channels-1); 0
    // counts as 1.
    size_t channels = 1;
  };

  // What a probe message looks like on the channel: kPrefix, then the nonce. The pod messages of
  // pod_message.h never start with it.
  static constexpr char kPrefix = 'P';

  enum class Action {
    kNone,       // nothing to do now
    kSend,       // publish `message` on the pod's channel number `channel`
    kReconnect,  // the subscription does not deliver (`reason`): drop the link as lost
  };

  struct Decision {
    Action action = Action::kNone;
    std::string message;  // kSend: the whole message, to publish as it is
    size_t channel = 0;   // kSend: an index into the pod's channels
    std::string reason;   // kReconnect: one line for the logs
  };

  // What a probe message seen on the channel was.
  enum class Seen {
    kAnswered,   // the probe in flight: the subscription delivers
    kDuplicate,  // the probe answered last, delivered again
    kLate,       // another earlier probe of this process (lost, or sent before a pause)
    kForeign,    // not this process's: another incarnation, a number never sent, or malformed
  };

  // A tracker for the process whose probes carry `incarnation` (pick it at random, once per
  // process). Paused until Resume().
  SubscriptionProbe(Options options, uint64_t incarnation);

  // The link is up (its subscriptions confirmed): the first probe is due at once.
  void Resume(Clock::time_point now);

  // The link is down: nothing is due, and the probe in flight, if any, is forgotten (if it comes
  // back later it is kLate). Resume() starts again.
  void Pause();

  bool paused() const { return state_ == State::kPaused; }

  // What to do at `now`, to be called at least once per `deadline` (the link's heartbeat does):
  // kReconnect if the probe in flight was sent `deadline` or more ago (the tracker is paused
  // then, until Resume()); else kSend when a probe is due (none in flight, and `period` passed
  // since the last was sent, or the tracker was just resumed), marking it in flight; else kNone.
  Decision Tick(Clock::time_point now);

  // When Tick() will next have something to do: the deadline of the probe in flight, or when the
  // next probe is due; Clock::time_point::max() while paused. For a caller with a timer of its
  // own.
  Clock::time_point next_check() const;

  // A message starting with kPrefix came on the pod's channel (IsProbe). Classifies it; only
  // kAnswered changes anything: the probe is no longer in flight, and its round trip is
  // recorded. While paused nothing is in flight, so an echo of this process's probe is kLate or
  // kDuplicate.
  Seen OnMessage(std::string_view message, Clock::time_point now);

  // Redis answered the PUBLISH of `message` with `receivers` (the number of subscribers it
  // reached). kReconnect if it is the probe in flight and nobody received it: not even this pod
  // subscribes to the channel, so waiting for the deadline would only delay the same verdict
  // (the tracker is paused then). kNone otherwise.
  Decision OnPublished(std::string_view message, long long receivers);

  // True when `message` is a probe message (starts with kPrefix), to be handed to OnMessage()
  // rather than read as a pod message.
  static bool IsProbe(std::string_view message) {
    return !message.empty() && message.front() == kPrefix;
  }

  // The message of probe `number` of the process `incarnation`.
  static std::string MessageFor(uint64_t incarnation, uint64_t number);

  uint64_t sent() const { return sent_; }
  uint64_t answered() const { return answered_; }
  uint64_t lost() const { return lost_; }
  // From sending the last answered probe to seeing it; zero before the first.
  Clock::duration last_round_trip() const { return last_round_trip_; }

 private:
  enum class State { kPaused, kIdle, kInFlight };

  // The number of a probe message of this incarnation; nullopt if foreign or malformed.
  std::optional<uint64_t> NumberOf(std::string_view message) const;
  // The probe in flight is given up on: paused, counted lost.
  Decision GiveUp(std::string reason);

  Options options_;
  uint64_t incarnation_;
  State state_ = State::kPaused;
  uint64_t number_ = 0;            // the last probe sent; 0: none yet
  uint64_t last_answered_ = 0;     // 0: none yet
  size_t channel_ = 0;             // where the probe in flight went
  Clock::time_point sent_at_{};    // of the probe in flight, or the last sent
  Clock::time_point next_send_{};  // kIdle: when the next probe is due
  uint64_t sent_ = 0;
  uint64_t answered_ = 0;
  uint64_t lost_ = 0;
  Clock::duration last_round_trip_{};
};

}  // namespace switchboard::routing
