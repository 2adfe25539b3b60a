// The link between a pod and Redis: the Redis nodes it talks to (redis_node.h), treated as one
// link, and the pod's liveness keys.
//
// On a standalone server the link has one node. With `cluster`, `address` names one seed node of
// a Redis Cluster: the link asks it (or, when it fails, a master it knew) for the slot map with
// CLUSTER SLOTS, connects to every master, subscribes on each to the pod's channels that hash to
// its slots (sharded pub/sub), and sends every command to the master of its key's slot. A
// command answered with MOVED or ASK follows the redirect (cluster_redirect.h); TRYAGAIN and
// CLUSTERDOWN are retried after a delay. Either way the slot is gated meanwhile: newer commands
// for it wait, so that what goes again cannot arrive after them. A command to retry fails
// instead if one sent after it, already on its way, was answered: retried, it would run after.
//
// The link is "up" only with every node ready. When any node is lost, or a channel's slot moves
// away, every node is dropped and the link reconnects from the start, with backoff (100 ms
// doubling to 5 s, half of it random jitter), so that no subscription is missing while commands
// flow and the slot map is fresh. A link can also die without a socket error (a frozen Redis, a
// cut network): a heartbeat unanswered for the liveness TTL counts as lost.
//
// The liveness keys (one per bucket of key_layout.h, all refreshed every heartbeat) are what
// keep the other pods from reaping this pod's peers. The link tells its owner when they may have
// lapsed while the link stayed up (Redis refused to set them, or this pod was frozen or starved
// past the TTL), so that it can claim its peers again. It also notices a Redis node that
// restarted (its run_id changed) while the link was down.
//
// With `sentinel`, the server is the master a set of Redis Sentinels names (redis_link_sentinel.cc,
// sentinel_resolver.h): every connection attempt asks them again, checks ROLE, and a failover
// (the master's run_id changed) is reported as a restart, since the new master may lack what the
// old one had not replicated. In every mode the link probes its own subscription
// (subscription_probe.h): a probe that does not come back counts as a lost link, as after a
// failover whose subscription silently delivers nothing.
#pragma once

#include <uv.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "routing/backoff.h"
#include "routing/redis_connection.h"
#include "routing/redis_node.h"
#include "routing/redis_url.h"
#include "routing/routed_frame.h"
#include "routing/script_runner.h"
#include "routing/sentinel_resolver.h"
#include "routing/slot_map.h"
#include "routing/subscription_probe.h"

namespace switchboard::routing {

class RedisLink {
 public:
  struct Options {
    RedisAddress address;  // the server, or with `cluster` one node of the cluster
    bool cluster = false;
    std::vector<std::string> channels;       // the pod's own channels, subscribed while up
    std::vector<std::string> liveness_keys;  // set with a TTL every heartbeat
    std::chrono::milliseconds heartbeat = std::chrono::milliseconds(1000);
    std::chrono::milliseconds alive_ttl = std::chrono::milliseconds(3000);
    std::vector<std::string> scripts;  // for the ScriptRunner
    // With Redis Sentinel: the master's name and the sentinels to ask (`address` then gives only
    // the master's user, password and db), and the sentinels' own password (empty: none).
    struct Sentinel {
      std::string master_name;
      std::vector<NodeAddress> sentinels;
      std::string password;
    };
    std::optional<Sentinel> sentinel = {};
  };

  // What the link reports. None of these is called after Close(). Each may use the link.
  struct Events {
    // Up again (or for the first time). `restarted`: Redis restarted since the link was last up,
    // so whatever lived only in it is gone.
    std::function<void(bool restarted)> up;
    // Down: the link was up and is lost. Called before any command still due hears of it.
    std::function<void()> down;
    // A message on the pod's channel.
    std::function<void(std::string_view message)> message;
    // Redis accepted the liveness key; `lapsed` says it may have lapsed before (the other pods
    // may have reaped this one).
    std::function<void(bool lapsed)> alive;
    // Once per heartbeat period while up, after the liveness key was sent: periodic Redis work.
    std::function<void()> heartbeat;
    // The heartbeat timer ran `stalled` after its last run, more than twice its period: this
    // pod's event loop stalled (frozen, starved). Reported before anything else of the timer.
    std::function<void(Clock::duration stalled)> stalled;
    // What operators should know; `warning` is false for good news.
    std::function<void(bool warning, std::string_view message, std::string_view detail)> log;
  };

  // A link on `loop` (not owned; must outlive it). Nothing happens until Start().
  RedisLink(uv_loop_t* loop, Options options, Events events);
  ~RedisLink();

  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Connects, and keeps reconnecting whenever the link is lost.
  void Start();

  // Deletes the liveness key if up, closes both connections and the timers. After it no event
  // is reported and no callback made; the loop can run out once the handles are closed.
  void Close();

  bool up() const { return up_; }

  // Sends a command whose key (or channel) is args[1] to the node that serves it; `done` (may be
  // null) gets its reply, or nullptr if the link is lost first. Returns false, without calling
  // `done`, when the link is down.
  bool Command(const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);

  // Runs a script (ScriptRunner::Run) on the node that serves keys[0] (every key must share its
  // slot). With the link down, `done` gets nullptr at once.
  void RunScript(int script, const std::vector<std::string_view>& keys,
                 const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);

  // Counts an error answer and logs it, once per cause while it lasts.
  void NoteRefusal(std::string_view what, std::string_view error);

  // The wall-clock time (Unix ms) after which Redis must refuse a command that changes who gets
  // a frame, if it is sent now: the scripts that route, requeue and expire compare it with
  // Redis' TIME. The link is declared lost no sooner than a liveness TTL after the oldest
  // heartbeat still unanswered (after the next one, if none is), so a command that Redis has
  // not run by then is one this pod gives up on, and whose bytes a frozen Redis could still run
  // at the thaw, after its sender was told and the new link's commands ran: refused, it does
  // nothing. kClockMargin allows for this pod's clock and Redis' to disagree.
  int64_t RunDeadlineMs() const;
  static constexpr std::chrono::milliseconds kClockMargin{250};

  // "SPUBLISH" on a cluster (sharded pub/sub), else "PUBLISH".
  std::string_view publish_verb() const { return options_.cluster ? "SPUBLISH" : "PUBLISH"; }

  // When the heartbeat timer last ran: long ago means this pod's event loop stalled (frozen,
  // starved) and has only just resumed.
  Clock::time_point last_heartbeat_timer() const { return last_heartbeat_timer_; }

  uint64_t reconnects() const { return reconnects_; }
  uint64_t errors() const { return errors_; }
  // Of the first node's script calls.
  const LatencyHistogram& script_latency() const;

 private:
  struct Request;
  // A slot with commands to send again (see OnReply): redirected (MOVED, ASK) or to retry
  // (TRYAGAIN, CLUSTERDOWN).
  struct Gate {
    struct Again {
      std::shared_ptr<Request> request;
      bool redirected;  // to the target; else to the slot's node, once retry_at has come
    };
    size_t target = 0;                          // index into nodes_
    bool moved = false;                         // MOVED (else ASK)
    std::deque<Again> again;                    // in the order they were first sent
    std::deque<std::shared_ptr<Request>> held;  // sent since, waiting
    Clock::time_point retry_at{};               // not before this, if any is to retry
  };

  void Connect();
  // Sentinel (redis_link_sentinel.cc): carries out the resolver's steps until it names a master
  // that ROLE confirmed, then connects the node there.
  void CarrySentinelStep(const SentinelResolver::Step& step);
  void AskSentinel(const SentinelResolver::Step& step);
  void CheckRole(const SentinelResolver::Step& step);
  // From a connection's callback: the next step runs from a timer, where the connection may go.
  void DeferSentinelStep(std::optional<SentinelResolver::Step> step);
  void OnSentinelDeadline();
  // Subscribes to +switch-master on a sentinel (the one the resolver trusts most), and again on
  // the next one a second after that connection is lost: a failover announced is acted on at
  // once, instead of when the old master's connection fails.
  void WatchSentinels();
  void OnSwitchMaster(std::string_view payload);
  // A command answered -READONLY: the master was demoted under the link.
  bool IsDemotion(std::string_view error) const;
  // The subscription probe, each heartbeat while up.
  void ProbeSubscription(Clock::time_point now);
  void AskForSlots();
  void OnSlots(const RedisAddress& asked, redisReply* reply);
  // Makes the nodes (one, or one per master of slots_) and connects them.
  void ConnectNodes();
  std::unique_ptr<RedisNode> MakeNode(RedisAddress address);
  void OnNodeReady();
  void OnUp();
  void OnLost(std::string_view why);
  void ScheduleReconnect();
  void Heartbeat();
  void OnHeartbeatReply(redisReply* reply);
  // The node serving `slot`: on a standalone server the only one; nullptr if none does.
  RedisNode* NodeFor(uint16_t slot);
  // Cluster: sends `request` to the node its slot names, following redirects.
  void Send(std::shared_ptr<Request> request, RedisNode* node, bool asking);
  void OnReply(const std::shared_ptr<Request>& request, const RedisNode* asked, redisReply* reply);
  void Retry();
  void ArmRetryTimer(Clock::duration delay);
  void Dispatch(std::shared_ptr<Request> request);
  void OpenGateOnceAnswered(uint16_t slot);
  // Fails the commands to retry in `slot`'s gate that are older than the one answered.
  void FailOvertakenRetries(uint16_t slot, uint64_t answered_order);
  bool SendFirstOfMixedGate(Gate& gate, uint16_t slot);
  static void AddAgain(Gate& gate, Gate::Again again);
  void FailGated();

  uv_loop_t* loop_;
  Options options_;
  Events events_;
  std::vector<std::unique_ptr<RedisNode>> nodes_;
  std::vector<uint16_t> node_of_slot_;  // cluster: index into nodes_ per slot
  std::vector<uint32_t> in_flight_;     // cluster: commands sent per slot, not yet answered
  uint64_t dispatched_ = 0;             // cluster: numbers the commands (Request::order)
  std::unordered_map<uint16_t, Gate> gates_;
  SlotMap slots_;                           // cluster: from CLUSTER SLOTS
  std::unique_ptr<RedisConnection> probe_;  // cluster: asks a node for the slot map
  std::vector<RedisAddress> seeds_;         // cluster: the seed, then the masters last known
  size_t next_seed_ = 0;
  std::unordered_map<std::string, std::string> run_ids_;  // node address -> its run_id
  LatencyHistogram no_latency_;
  uv_timer_t retry_timer_{};  // cluster: opens the gates whose retry_at has come
  uv_timer_t reconnect_timer_{};
  uv_timer_t heartbeat_timer_{};
  Backoff backoff_;
  std::optional<SentinelResolver> resolver_;             // with options_.sentinel
  std::optional<SentinelResolver::Step> deferred_step_;  // for sentinel_defer_timer_
  uv_timer_t sentinel_defer_timer_{};
  uv_timer_t sentinel_deadline_timer_{};             // the current step's deadline
  std::unique_ptr<RedisConnection> sentinel_watch_;  // subscribed to +switch-master
  uv_timer_t sentinel_watch_timer_{};                // to watch again after it was lost
  size_t watched_ = 0;                               // watches started, to pick the next sentinel
  SubscriptionProbe subscription_probe_;
  bool up_ = false;
  bool closing_ = false;
  std::string last_failure_;  // why the link last failed, logged once per cause while down
  std::string last_refusal_;  // the last error answer, logged once per cause
  bool restarted_ = false;    // a node's run_id changed
  Clock::time_point last_heartbeat_timer_ = Clock::now();
  std::optional<Clock::time_point> heartbeat_sent_at_;  // the heartbeat awaiting its replies
  size_t heartbeat_replies_due_ = 0;
  bool heartbeat_refused_ = false;
  std::optional<Clock::time_point> last_alive_at_;  // when the last accepted one was sent
  bool liveness_lapsed_ = false;                    // Redis refused the liveness key
  uint64_t reconnects_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace switchboard::routing
