// Finding the Redis master through Redis Sentinel, as the Sentinel client rules ask
// (https://redis.io/docs/reference/sentinel-clients/): ask the sentinels in turn, each with a
// short timeout, `SENTINEL get-master-addr-by-name <name>`; connect to the address one gives and
// check with ROLE that it is the master; on any reconnect, do it all again (nothing is cached).
//
// Pure: a state machine that decides, and an I/O side (the link, redis_link.h) that does. No
// sockets, no timers and no clock of its own: the time comes in with every call, and the jitter
// of the backoff from a function the caller gives. The I/O side is a thin loop: it carries out
// the Step the resolver hands it (ask a sentinel, check a master's ROLE, wait, use the master),
// and tells the resolver what came of it, quoting the step's attempt number; the resolver hands
// back the next Step. Every step supersedes the one before, so the I/O side drops whatever the
// last one had open. A report quoting an attempt that is over (a reply that came after its
// timeout, a timer that fired after the reply) is ignored, so nothing needs cancelling exactly.
//
// Why it is shaped so:
// - One sentinel at a time, in list order, each within `sentinel_timeout` (a few hundred ms, as
//   the rules say): a dead sentinel costs one timeout, and a round asks every sentinel once.
// - The sentinel whose answer ROLE confirmed goes to the front of the list, so that the next
//   resolution asks it first (and the link subscribes to +switch-master there). A sentinel whose
//   answer failed the ROLE check goes to the back: left at the front, a stale sentinel would be
//   asked first, and believed, forever, and the others never.
// - A round in which no sentinel gave an address, or whose address failed the ROLE check, is
//   followed by a wait with backoff (backoff.h: 100 ms doubling to 5 s, half of it jitter), so
//   that many pods that lost Redis together do not hammer the sentinels in step. An address that
//   ROLE says is a replica is retried after a short delay (the rules' "few hundred ms"; the
//   backoff's, if longer): a failover is under way and ends soon.
// - +switch-master (parsed by ParseSwitchMaster) only says when to act: it cuts a wait short,
//   restarts a round that may be asking about the old master, or tells the link to drop a master
//   that moved. It never replaces the steps above (its address is not trusted; the answer of a
//   sentinel, confirmed by ROLE, is), and nothing depends on it arriving: pub/sub may miss it.
// - Replies off the network are read by total parsers (ParseMasterAddrReply, ParseRoleReply):
//   any reply tree hiredis can make, or none, gives an answer, never a crash.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/backoff.h"
#include "routing/routed_frame.h"
#include "routing/slot_map.h"

struct redisReply;  // hiredis' reply tree (<hiredis/hiredis.h>); only read here.

namespace switchboard::routing {

// The port of a sentinel given without one.
inline constexpr int kDefaultSentinelPort = 26379;

// Parses the --redis-sentinels list: entries separated by commas, each "host", "host:port",
// "[ipv6]" or "[ipv6]:port" (spaces around an entry are ignored; a sentinel without a port is
// on kDefaultSentinelPort). Returns the sentinels in the order given.
//
// Returns nullopt and sets `*error` (when `error` is not null) to a one-line explanation naming
// the entry when: the list is empty; an entry is empty (two commas in a row, or one at an end);
// a host is missing, longer than 255 bytes, or not printable ASCII; an IPv6 address is not in
// brackets (more than one ':'); a bracket is unclosed, stray, or holds something other than an
// IPv6 address; a port is missing after ':' or not a number from 1 to 65535; or one sentinel is
// listed twice (the host compared without regard to case, the port after defaulting).
std::optional<std::vector<NodeAddress>> ParseSentinelList(std::string_view text,
                                                          std::string* error);

// True when `name` can be a Sentinel master name here: 1 to 255 bytes of printable ASCII other
// than space (a +switch-master message separates its fields with spaces). Otherwise false, with
// `*error` (when not null) saying why.
bool IsValidSentinelMasterName(std::string_view name, std::string* error);

// What a sentinel answered to SENTINEL get-master-addr-by-name.
struct MasterAddrAnswer {
  enum class Kind {
    kAddress,        // `address`: where the sentinel says the master is
    kUnknownMaster,  // a nil reply: the sentinel does not know a master of that name
    kError,          // an error reply (-IDONTKNOW, -NOAUTH, ...) or one of the wrong shape
    kUnreachable,    // no reply: the connection failed or was lost; `detail` says why
  };
  Kind kind = Kind::kUnreachable;
  NodeAddress address;  // kAddress
  std::string detail;   // kError, kUnreachable: one line, for the logs
};

// Reads the reply to SENTINEL get-master-addr-by-name: nullptr (no reply: the connection went)
// is kUnreachable; nil is kUnknownMaster; an array of two strings, a plausible host
// (IsPlausibleNodeHost) and a port from 1 to 65535, is kAddress; an error reply, and anything
// else, is kError with the error's text or what is wrong with the reply. `reply` stays the
// caller's; nothing in the answer points into it.
MasterAddrAnswer ParseMasterAddrReply(const redisReply* reply);

// What a Redis server answered to ROLE.
struct RoleAnswer {
  enum class Kind {
    kMaster,       // "master"
    kReplica,      // "slave" (or "replica"): `detail` names its master when the reply does
    kOther,        // another role ("sentinel", or one this code does not know): `detail` says it
    kError,        // an error reply (-NOAUTH, -LOADING, ...) or a reply of the wrong shape
    kUnreachable,  // no reply: the connection failed, was lost, or did not answer in time
  };
  Kind kind = Kind::kUnreachable;
  std::string detail;  // one line, for the logs
};

// Reads the reply to ROLE: nullptr is kUnreachable; an array whose first element is the string
// "master", "slave" or "replica", "sentinel" (or another string) is kMaster, kReplica or kOther;
// an error reply, and anything else, is kError. Total on any reply tree.
RoleAnswer ParseRoleReply(const redisReply* reply);

// A +switch-master message, published by a sentinel on its channel "+switch-master" when the
// master of `master_name` changed.
struct SwitchMaster {
  std::string master_name;
  NodeAddress from;  // the old master
  NodeAddress to;    // the new one
};

// Parses the payload "<master-name> <old-ip> <old-port> <new-ip> <new-port>": exactly five
// fields separated by single spaces, plausible hosts (IsPlausibleNodeHost; IPv6 addresses come
// bare), ports from 1 to 65535. Returns nullopt and sets `*error` (when not null) otherwise.
std::optional<SwitchMaster> ParseSwitchMaster(std::string_view payload, std::string* error);

class SentinelResolver {
 public:
  struct Options {
    std::string master_name;             // IsValidSentinelMasterName
    std::vector<NodeAddress> sentinels;  // ParseSentinelList's result; in the order to ask
    // How long one sentinel may take to connect and answer before the next is asked.
    std::chrono::milliseconds sentinel_timeout{500};
    // How long the master may take to connect and answer ROLE.
    std::chrono::milliseconds role_timeout{1000};
    // The least wait after ROLE said "replica".
    std::chrono::milliseconds not_master_delay{300};
    // The waits after a failed round: from `backoff_initial`, doubling up to `backoff_max`.
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
    // Numbers in [0, 1) for the backoff's jitter (Backoff::Next). Empty: 0.5 each time.
    std::function<double()> random_unit;
  };

  enum class Action {
    kIdle,         // nothing to do: not begun, stopped, or told to reconnect (Begin() next)
    kAskSentinel,  // connect to the sentinel at `address`, send SENTINEL get-master-addr-by-name
                   // <master_name()>, report OnSentinelAnswer; by `deadline`, OnDeadline
    kCheckRole,    // connect to the master at `address`, send ROLE, report OnRole; by
                   // `deadline`, OnDeadline
    kWait,         // do nothing until `deadline`, then report OnDeadline; `reason` says why
    kUse,          // ROLE confirmed the master at `address`: the link carries on there
    kReconnect,    // the master in use moved (`reason`): drop the link as lost, Begin() again
  };

  // Why a round failed (kWait), or why the link must reconnect (kReconnect).
  enum class Cause {
    kNone,
    kNoSentinels,           // the list is empty: nothing to ask
    kSentinelsUnreachable,  // no sentinel answered in time (all failed, were lost, timed out)
    kMasterUnknown,         // every sentinel answered nil: none knows a master of that name
    kNoAddress,             // otherwise, no sentinel gave an address (errors, a mix)
    kNotMaster,             // ROLE at the address given said replica (or another role)
    kMasterUnreachable,     // the address given failed, or ROLE failed or timed out there
    kSwitched,              // kReconnect: a sentinel announced that the master moved
  };

  struct Step {
    Action action = Action::kIdle;
    uint64_t attempt = 0;        // to quote in the report; each step has a new one
    NodeAddress address;         // kAskSentinel: the sentinel; kCheckRole, kUse: the master
    Clock::time_point deadline;  // kAskSentinel, kCheckRole, kWait: when to report OnDeadline
    Cause cause = Cause::kNone;  // kWait, kReconnect
    std::string reason;          // kWait, kReconnect: one line for the logs
  };

  // A resolver that has not begun (kIdle).
  explicit SentinelResolver(Options options);

  SentinelResolver(const SentinelResolver&) = delete;
  SentinelResolver& operator=(const SentinelResolver&) = delete;

  // Starts resolving afresh from the first sentinel of the list (a round), whatever was under
  // way: to be called on every connect and reconnect of the link. With no sentinels, the step
  // is kWait (kNoSentinels), and each later round ends the same way.
  Step Begin(Clock::time_point now);

  // Abandons whatever is under way (the link is down, or closed): the step is kIdle until
  // Begin(), and reports quoting earlier attempts are ignored. The list order and the backoff
  // are kept.
  void Stop();

  // The sentinel asked in `attempt` answered (or its connection failed: kUnreachable). An
  // address leads to kCheckRole there. Any other answer leads to the next sentinel of the round
  // (kAskSentinel) or, after the last, to kWait with backoff and a cause. Returns nullopt, and
  // changes nothing, when `attempt` is not the current step's or the step is not kAskSentinel.
  std::optional<Step> OnSentinelAnswer(uint64_t attempt, Clock::time_point now,
                                       const MasterAddrAnswer& answer);

  // The master checked in `attempt` answered ROLE (or its connection failed: kUnreachable).
  // kMaster: the sentinel that named it goes to the front of the list, the backoff is reset,
  // and the step is kUse. kReplica and kOther: that sentinel goes to the back, and the step is
  // kWait (kNotMaster) for the larger of not_master_delay and the backoff's next delay. kError
  // and kUnreachable: the same, but the wait is the backoff's (kMasterUnreachable). Returns
  // nullopt, changing nothing, when `attempt` is not current or the step is not kCheckRole.
  std::optional<Step> OnRole(uint64_t attempt, Clock::time_point now, const RoleAnswer& answer);

  // The deadline of `attempt` has come (the caller's timer fired; `now` is not compared with
  // it, so a timer that fires a little early is fine). kAskSentinel: the sentinel timed out, as
  // OnSentinelAnswer with kUnreachable. kCheckRole: as OnRole with kUnreachable. kWait: a new
  // round starts (kAskSentinel, first sentinel). Returns nullopt, changing nothing, when
  // `attempt` is not current or its step has no deadline.
  std::optional<Step> OnDeadline(uint64_t attempt, Clock::time_point now);

  // A +switch-master message came (from the sentinel the link listens to). Returns nullopt,
  // changing nothing, when it is about another master name, when the step is kIdle or
  // kReconnect (the next Begin() resolves anyway), when it moves the master to the one in use
  // (kUse) or being checked (kCheckRole). Otherwise: in kUse, kReconnect (kSwitched); in
  // kAskSentinel, kCheckRole and kWait, a new round starts now (its answers are about the old
  // master), with the backoff reset.
  std::optional<Step> OnSwitchMaster(Clock::time_point now, const SwitchMaster& message);

  // The current step: what the I/O side should be doing now.
  const Step& step() const { return step_; }
  // The sentinels, in the order the next round asks them. The first is the one to listen to
  // for +switch-master.
  const std::vector<NodeAddress>& sentinels() const { return sentinels_; }
  // The master ROLE last confirmed (kUse), kept after it is left; nullopt before the first.
  const std::optional<NodeAddress>& master() const { return master_; }
  const std::string& master_name() const { return options_.master_name; }

 private:
  // How one sentinel of the current round failed to give an address.
  struct Outcome {
    NodeAddress sentinel;
    MasterAddrAnswer::Kind kind;
    std::string detail;
  };

  Step NewRound(Clock::time_point now);
  // Asks sentinels_[next_], or ends the round when every sentinel was asked.
  Step AskNext(Clock::time_point now);
  Step EndFailedRound(Clock::time_point now);
  Step Wait(Clock::time_point now, Backoff::Duration delay, Cause cause, std::string reason);
  // Makes the current step one of `action`, with a new attempt number.
  const Step& Enter(Action action, NodeAddress address = {}, Clock::time_point deadline = {},
                    Cause cause = Cause::kNone, std::string reason = {});
  void MoveToFront(const NodeAddress& sentinel);
  void MoveToBack(const NodeAddress& sentinel);
  double RandomUnit() const;

  Options options_;
  std::vector<NodeAddress> sentinels_;
  Backoff backoff_;
  Step step_;
  uint64_t attempts_ = 0;
  size_t next_ = 0;                // kAskSentinel: the index in sentinels_ being asked
  NodeAddress named_by_;           // kCheckRole: the sentinel that gave the address
  std::vector<Outcome> outcomes_;  // the current round's sentinels that gave no address
  std::optional<NodeAddress> master_;
};

}  // namespace switchboard::routing
