// The link between a pod and Redis: two hiredis connections on the event loop, one that
// pipelines commands and one that holds the pod's subscription, treated as one link, and the
// pod's liveness key.
//
// The link is "up" only with both connections connected, the subscription confirmed and the
// scripts loaded. When either connection drops, both are dropped and reconnected with backoff
// (100 ms doubling to 5 s, half of it random jitter), so that the subscription is never missing
// while commands flow. A link can also die without hiredis noticing (its libuv adapter ignores
// poll errors): a heartbeat unanswered for the liveness TTL counts as lost.
//
// The liveness key (P:alive:<pod>, refreshed every heartbeat) is what keeps the other pods from
// reaping this pod's peers. The link tells its owner when the key may have lapsed while the link
// stayed up (Redis refused to set it, or this pod was frozen or starved past the TTL), so that it
// can claim its peers again. It also notices a Redis that restarted (its run_id changed) while
// the link was down.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/backoff.h"
#include "routing/redis_connection.h"
#include "routing/redis_url.h"
#include "routing/routed_frame.h"
#include "routing/script_runner.h"

namespace switchboard::routing {

class RedisLink {
 public:
  struct Options {
    RedisAddress address;
    std::string channel;       // the pod's own channel, subscribed while up
    std::string liveness_key;  // set with a TTL every heartbeat
    std::chrono::milliseconds heartbeat = std::chrono::milliseconds(1000);
    std::chrono::milliseconds alive_ttl = std::chrono::milliseconds(3000);
    std::vector<std::string> scripts;  // for the ScriptRunner
  };

  // What the link reports. None of these is called after Close(). Each may use the link.
  struct Events {
    // Up again (or for the first time). `restarted`: Redis restarted since the link was last up,
    // so whatever lived only in it is gone.
    std::function<void(bool restarted)> up;
    // A message on the pod's channel.
    std::function<void(std::string_view message)> message;
    // Redis accepted the liveness key; `lapsed` says it may have lapsed before (the other pods
    // may have reaped this one).
    std::function<void(bool lapsed)> alive;
    // Once per heartbeat period while up, after the liveness key was sent: periodic Redis work.
    std::function<void()> heartbeat;
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
  void Close(const std::vector<std::vector<std::string>>& last_commands = {});

  bool up() const { return up_; }

  // Sends a command on the command connection; `done` (may be null) gets its reply, or nullptr if
  // the link is lost first. Returns false, without calling `done`, when the link is down.
  bool Command(const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);

  // Runs a script (ScriptRunner::Run). With the link down, `done` gets nullptr at once.
  void RunScript(int script, const std::vector<std::string_view>& keys,
                 const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);

  // Counts an error answer and logs it, once per cause while it lasts.
  void NoteRefusal(std::string_view what, std::string_view error);

  uint64_t reconnects() const { return reconnects_; }
  uint64_t errors() const { return errors_; }
  const LatencyHistogram& script_latency() const { return scripts_.latency(); }

 private:
  void Connect();
  void OnConnected();
  void OnUp();
  void OnLost(std::string_view why);
  void ScheduleReconnect();
  void Heartbeat();
  void OnHeartbeatReply(redisReply* reply);

  uv_loop_t* loop_;
  Options options_;
  Events events_;
  RedisConnection commands_;
  RedisConnection subscriber_;
  ScriptRunner scripts_;
  uv_timer_t reconnect_timer_{};
  uv_timer_t heartbeat_timer_{};
  Backoff backoff_;
  bool up_ = false;
  bool closing_ = false;
  std::string last_failure_;  // why the link last failed, logged once per cause while down
  std::string last_refusal_;  // the last error answer, logged once per cause
  std::string run_id_;        // INFO's run_id at the last connect
  bool restarted_ = false;    // it changed
  std::optional<Clock::time_point> heartbeat_sent_at_;  // the heartbeat awaiting its reply
  std::optional<Clock::time_point> last_alive_at_;      // when the last accepted one was sent
  bool liveness_lapsed_ = false;                        // Redis refused the liveness key
  uint64_t reconnects_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace switchboard::routing
