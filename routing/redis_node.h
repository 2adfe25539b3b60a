// One Redis server as the link uses it: a connection that pipelines commands and runs the
// scripts, and one that holds this pod's subscriptions on that server, treated as one.
//
// A standalone deployment has one node; a Redis Cluster deployment has one per master, each
// subscribed to the pod's channels that hash to its slots. The node is "ready" once both
// connections are up, INFO has said what the server is (its run_id, whether it is a cluster
// node), every channel is confirmed and the scripts are loaded. Any failure makes the node lost,
// once, with both connections dropped; what to do about it (reconnect every node, with backoff)
// is the link's business (redis_link.h).
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/redis_connection.h"
#include "routing/redis_url.h"
#include "routing/script_runner.h"

namespace switchboard::routing {

class RedisNode {
 public:
  struct Events {
    // Ready: both connections up, subscribed, scripts loaded.
    std::function<void()> ready;
    // A connection failed or dropped, or INFO, the subscription or the scripts failed. Called
    // before the callbacks still due hear of it (with nullptr), and both connections are
    // dropped right after.
    std::function<void(std::string_view why)> lost;
    // A message on one of the node's channels.
    std::function<void(std::string_view message)> message;
    // A channel was taken from this pod without being asked (its slot moved elsewhere).
    std::function<void(std::string_view channel)> unsubscribed;
    // A script call was answered with an error (other than NOSCRIPT), or the scripts had to be
    // loaded again.
    std::function<void(std::string_view error)> refused;
    std::function<void(std::string_view error)> reloading;
  };

  // A node at `address` on `loop` (not owned; must outlive it) running `scripts`, subscribing
  // with `subscribe_verb` ("SUBSCRIBE" or "SSUBSCRIBE"). Nothing happens until Connect().
  RedisNode(uv_loop_t* loop, RedisAddress address, std::vector<std::string> scripts,
            std::string subscribe_verb, Events events);

  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  // Connects both connections and subscribes to `channels` (one SSUBSCRIBE per channel, since a
  // cluster wants one slot per command; one SUBSCRIBE for all otherwise). Reports ready or lost
  // later, never before returning.
  void Connect(std::vector<std::string> channels);

  // Drops both connections now; callbacks still due get nullptr; no event is reported.
  void Drop();
  // Closes the command connection after the replies due, and the subscriber now.
  void Quit();

  bool ready() const { return ready_; }
  const RedisAddress& address() const { return address_; }
  // From INFO at the last connect: the server's run_id, and whether it is a cluster node.
  const std::string& run_id() const { return run_id_; }
  bool cluster_enabled() const { return cluster_enabled_; }

  // Sends a command on the command connection (RedisConnection::Command).
  bool Command(const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);
  // Runs a script (ScriptRunner::Run).
  void RunScript(int script, const std::vector<std::string_view>& keys,
                 const std::vector<std::string_view>& args, RedisConnection::ReplyCallback done);

  const LatencyHistogram& script_latency() const { return scripts_.latency(); }

 private:
  void OnConnected();
  void OnInfo(redisReply* reply);
  void LoadScriptsOnceSubscribed();
  void OnPush(std::string_view kind, std::string_view channel, std::string_view payload);
  void Lost(std::string_view why);

  RedisAddress address_;
  std::string subscribe_verb_;
  Events events_;
  RedisConnection commands_;
  RedisConnection subscriber_;
  ScriptRunner scripts_;
  std::vector<std::string> channels_;
  size_t confirmed_ = 0;
  bool info_read_ = false;
  bool loading_ = false;  // the scripts
  bool ready_ = false;
  bool lost_ = false;  // reported since the last Connect()
  std::string run_id_;
  bool cluster_enabled_ = false;
};

}  // namespace switchboard::routing
