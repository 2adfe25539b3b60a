// A real Redis Cluster for the tests: cluster-enabled redis-server children on free loopback ports
// (each with its own directory, nodes.conf and cluster-bus port, no persistence), joined either by
// `redis-cli --cluster create` (the way operators make one) or by hand (CLUSTER ADDSLOTSRANGE and
// MEET, for a layout redis-cli would not make, such as one with holes). Plus what the tests do to
// a live cluster: move a slot (all at once, or step by step with traffic in between), kill a node
// and wait for its replica to take over. Every wait polls with a deadline and says, on failure,
// what it saw last.
//
//   RedisCluster cluster;
//   ASSERT_TRUE(cluster.Start(3, 1, &error)) << error;   // 3 masters, 1 replica each: 6 nodes
//   const int owner = cluster.MasterForSlot(KeySlot("k"));
//   ASSERT_TRUE(cluster.MigrateSlot(KeySlot("k"), owner, other, &error)) << error;
//   cluster.Kill(other);
//   ASSERT_TRUE(cluster.WaitForFailover(other, std::chrono::seconds(10), &error)) << error;
//
// Needs `redis-server` and `redis-cli` (Debian packages redis-server, redis-tools) on the PATH.
// Nodes are told apart by index, 0..size()-1, in the order they were started; a node keeps its
// index (and port) when it is killed.
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "redis_server_fixture.h"

namespace switchboard::routing {

class RedisCluster {
 public:
  // --cluster-node-timeout of every node: how long a node may be silent before the others flag
  // it as failing. Short, so that a failover takes about two seconds rather than thirty.
  static constexpr int kNodeTimeoutMs = 1000;

  // Slots first..last, both included.
  struct SlotRange {
    int first;
    int last;
  };

  struct ReplyFree {
    void operator()(redisReply* reply) const {
      if (reply != nullptr) freeReplyObject(reply);
    }
  };
  using Reply = std::unique_ptr<redisReply, ReplyFree>;

  RedisCluster() = default;
  ~RedisCluster() { Stop(); }
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // Starts masters * (1 + replicas_per_master) nodes and makes them one cluster with
  // `redis-cli --cluster create ... --cluster-replicas N --cluster-yes` (which spreads the 16384
  // slots evenly over the masters, in node order, and picks the replicas itself: which node
  // replicates which is read back from the cluster, never assumed). Returns once every node says
  // cluster_state:ok, knows every node, and all give the same CLUSTER SLOTS, with every master
  // listing its replicas and every replica's link to its master up (its first sync done: until
  // then a replica cannot take over). redis-cli wants at least 3 masters. False, with `error`
  // (redis-cli's output included), if it could not.
  bool Start(int masters, int replicas_per_master, std::string* error) {
    if (!nodes_.empty()) return Fail(error, "this RedisCluster is started already");
    if (masters < 3) return Fail(error, "redis-cli --cluster create needs at least 3 masters");
    if (replicas_per_master < 0) return Fail(error, "a negative number of replicas");
    const int count = masters * (1 + replicas_per_master);
    if (!StartNodes(count, error)) return false;
    std::vector<std::string> args = {"redis-cli", "--cluster", "create"};
    for (const Node& node : nodes_) args.push_back("127.0.0.1:" + std::to_string(node.port));
    args.insert(args.end(),
                {"--cluster-replicas", std::to_string(replicas_per_master), "--cluster-yes"});
    std::string output;
    const int status = RunProgram(args, std::chrono::seconds(60), &output);
    if (status != 0) {
      return Fail(error, Join(args) + " failed (" +
                             (status < 0 ? std::string("did not finish")
                                         : "exit " + std::to_string(status)) +
                             "):\n" + output);
    }
    std::string why;
    const bool ready = WaitUntil(std::chrono::seconds(30), &why, [&](std::string* not_yet) {
      return Settled(/*require_ok=*/true, masters, replicas_per_master, not_yet);
    });
    if (!ready) {
      return Fail(error, "the cluster did not settle within 30 s after redis-cli: " + why +
                             "\nredis-cli said:\n" + output);
    }
    return true;
  }

  // Starts one node per entry of `slots_per_master`, gives each the slot ranges listed for it
  // (CLUSTER ADDSLOTSRANGE; any slot left out stays unserved, and then the cluster's state is
  // "fail"), and joins them with CLUSTER MEET. No replicas. Returns once every node knows every
  // node and all give the same CLUSTER SLOTS (and cluster_state:ok, if every slot is served).
  bool StartWithSlots(const std::vector<std::vector<SlotRange>>& slots_per_master,
                      std::string* error) {
    if (!nodes_.empty()) return Fail(error, "this RedisCluster is started already");
    if (slots_per_master.empty()) return Fail(error, "a cluster of no nodes");
    const int count = static_cast<int>(slots_per_master.size());
    if (!StartNodes(count, error)) return false;
    int served = 0;
    int masters = 0;
    for (int i = 0; i < count; ++i) {
      RedisClient client(nodes_[i].port);
      // Distinct epochs from the start, as redis-cli gives them: no collision to resolve later.
      std::string answer = client.Run({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)});
      if (answer != "OK") return Fail(error, "SET-CONFIG-EPOCH on node " + Name(i) + ": " + answer);
      for (const SlotRange& range : slots_per_master[i]) {
        answer = client.Run(
            {"CLUSTER", "ADDSLOTSRANGE", std::to_string(range.first), std::to_string(range.last)});
        if (answer != "OK") {
          return Fail(error, "CLUSTER ADDSLOTSRANGE " + std::to_string(range.first) + " " +
                                 std::to_string(range.last) + " on node " + Name(i) + ": " +
                                 answer);
        }
        served += range.last - range.first + 1;
      }
      if (!slots_per_master[i].empty()) ++masters;
    }
    RedisClient first(nodes_[0].port);
    for (int i = 1; i < count; ++i) {
      const std::string answer =
          first.Run({"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes_[i].port),
                     std::to_string(nodes_[i].bus_port)});
      if (answer != "OK") return Fail(error, "CLUSTER MEET " + Name(i) + ": " + answer);
    }
    const bool complete = served == 16384;  // ADDSLOTSRANGE refuses a slot given twice
    std::string why;
    if (!WaitUntil(std::chrono::seconds(30), &why,
                   [&](std::string* not_yet) { return Settled(complete, masters, -1, not_yet); })) {
      return Fail(error, "the hand-made cluster did not settle within 30 s: " + why);
    }
    return true;
  }

  // Kills every node and removes their directories. Also done by the destructor.
  void Stop() {
    for (Node& node : nodes_) node.server->Kill();
    nodes_.clear();
    replicas_when_killed_.clear();
    if (!root_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(root_, ignored);
      root_.clear();
    }
  }

  int size() const { return static_cast<int>(nodes_.size()); }
  int Port(int index) const { return nodes_[index].port; }
  int BusPort(int index) const { return nodes_[index].bus_port; }
  // The node's cluster id (CLUSTER MYID), read when it joined.
  const std::string& NodeId(int index) const { return nodes_[index].id; }
  bool Alive(int index) const { return nodes_[index].server->running(); }
  // "redis://127.0.0.1:<port>" of node 0: where a client may start to discover the cluster.
  std::string SeedUrl() const { return "redis://127.0.0.1:" + std::to_string(Port(0)); }
  // True if the last WaitForFailover had to force the takeover (see there).
  bool last_failover_forced() const { return last_failover_forced_; }

  // The index of the node serving `slot`, as the first live node's CLUSTER SLOTS says; -1 if no
  // node serves it or nobody answered.
  int MasterForSlot(int slot) const {
    const int asked = FirstAlive();
    return asked < 0 ? -1 : MasterForSlotAt(asked, slot);
  }

  // The same, as node `asked` sees it.
  int MasterForSlotAt(int asked, int slot) const {
    const std::optional<SlotsView> view = ViewOf(asked, nullptr);
    if (!view) return -1;
    for (const RangeView& range : *view) {
      if (range.first <= slot && slot <= range.last) return IndexOfPort(range.master_port);
    }
    return -1;
  }

  // The indexes, ascending, of the nodes that serve at least one slot (the first live node's
  // CLUSTER SLOTS).
  std::vector<int> Masters() const {
    std::set<int> masters;
    const int asked = FirstAlive();
    const std::optional<SlotsView> view = asked < 0 ? std::nullopt : ViewOf(asked, nullptr);
    if (view) {
      for (const RangeView& range : *view) masters.insert(IndexOfPort(range.master_port));
    }
    masters.erase(-1);
    return {masters.begin(), masters.end()};
  }

  // The indexes of the nodes that replicate node `master`, as the first live node's CLUSTER
  // NODES says (failed ones included).
  std::vector<int> ReplicasOf(int master) const {
    std::vector<int> replicas;
    const int asked = FirstAlive();
    if (asked < 0) return replicas;
    for (const NodeLine& line : NodesOf(asked)) {
      if (line.master_id == nodes_[master].id) {
        const int index = IndexOfPort(line.port);
        if (index >= 0) replicas.push_back(index);
      }
    }
    std::sort(replicas.begin(), replicas.end());
    return replicas;
  }

  // One command on node `index`, over a fresh connection, its reply rendered as RedisClient does.
  std::string Run(int index, std::initializer_list<std::string_view> args) const {
    RedisClient client(nodes_[index].port);
    return client.Run(args);
  }

  // One command on a fresh synchronous connection to 127.0.0.1:`port`: hiredis' reply tree, null
  // if the connection or the command failed.
  static Reply Command(int port, const std::vector<std::string>& args, int timeout_ms = 2000) {
    const timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (context == nullptr) return nullptr;
    Reply reply;
    if (context->err == 0) {
      redisSetTimeout(context, timeout);
      std::vector<const char*> argv;
      std::vector<size_t> lengths;
      for (const std::string& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
      }
      reply.reset(static_cast<redisReply*>(
          redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    }
    redisFree(context);
    return reply;
  }

  // --- Moving a slot (live resharding, as `redis-cli --cluster reshard` does it) ---------------

  // All of it: BeginMigration, MigrateKeys until the slot is empty on the source,
  // FinishMigration. The keys keep their values (and TTLs); `from` must be the slot's owner.
  bool MigrateSlot(int slot, int from, int to, std::string* error) {
    if (!BeginMigration(slot, from, to, error)) return false;
    for (;;) {
      const int moved = MigrateKeys(slot, from, to, 100, error);
      if (moved < 0) return false;
      if (moved == 0) break;
    }
    return FinishMigration(slot, from, to, error);
  }

  // CLUSTER SETSLOT <slot> IMPORTING <from's id> on `to`, then MIGRATING <to's id> on `from`. From
  // then on `from` answers a command for a key of the slot that it no longer holds with
  // -ASK <slot> <to>, and `to` serves such a command only after ASKING.
  bool BeginMigration(int slot, int from, int to, std::string* error) {
    if (!CheckPair(slot, from, to, error)) return false;
    const int owner = MasterForSlotAt(from, slot);
    if (owner != from) {
      return Fail(error, "slot " + std::to_string(slot) + " is not served by node " + Name(from) +
                             " (owner per that node: " + std::to_string(owner) + ")");
    }
    const std::string slot_text = std::to_string(slot);
    std::string answer = Run(to, {"CLUSTER", "SETSLOT", slot_text, "IMPORTING", nodes_[from].id});
    if (answer != "OK") return Fail(error, "SETSLOT IMPORTING on node " + Name(to) + ": " + answer);
    answer = Run(from, {"CLUSTER", "SETSLOT", slot_text, "MIGRATING", nodes_[to].id});
    if (answer != "OK") {
      return Fail(error, "SETSLOT MIGRATING on node " + Name(from) + ": " + answer);
    }
    return true;
  }

  // Moves up to `max_keys` keys of the slot from `from` to `to` (CLUSTER GETKEYSINSLOT, then one
  // MIGRATE ... REPLACE KEYS ...). Returns how many it moved (0: none left on `from`), or -1 with
  // `error`.
  int MigrateKeys(int slot, int from, int to, int max_keys, std::string* error) {
    if (!CheckPair(slot, from, to, error)) return -1;
    if (max_keys <= 0) {
      Fail(error, "MigrateKeys: max_keys must be positive");
      return -1;
    }
    Reply keys = Command(nodes_[from].port, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot),
                                             std::to_string(max_keys)});
    if (keys == nullptr || keys->type != REDIS_REPLY_ARRAY) {
      Fail(error, "GETKEYSINSLOT on node " + Name(from) + ": " + Text(keys.get()));
      return -1;
    }
    if (keys->elements == 0) return 0;
    std::vector<std::string> migrate = {"MIGRATE", "127.0.0.1", std::to_string(nodes_[to].port),
                                        "",        "0",         "5000",
                                        "REPLACE", "KEYS"};
    for (size_t i = 0; i < keys->elements; ++i) {
      migrate.emplace_back(keys->element[i]->str, keys->element[i]->len);
    }
    Reply answer = Command(nodes_[from].port, migrate, 10000);
    const std::string text = Text(answer.get());
    if (text != "OK" && text != "NOKEY") {
      Fail(error, "MIGRATE of " + std::to_string(keys->elements) + " keys from node " + Name(from) +
                      " to node " + Name(to) + ": " + text);
      return -1;
    }
    return static_cast<int>(keys->elements);
  }

  // CLUSTER SETSLOT <slot> NODE <to's id> on `to`, then on `from`, then on every other live master,
  // and waits (10 s at most) until every live node's CLUSTER SLOTS says `to` serves the slot.
  // Refused while `from` still holds keys of the slot.
  bool FinishMigration(int slot, int from, int to, std::string* error) {
    if (!CheckPair(slot, from, to, error)) return false;
    const std::string slot_text = std::to_string(slot);
    const std::string left = Run(from, {"CLUSTER", "COUNTKEYSINSLOT", slot_text});
    if (left != "0") {
      return Fail(error, "node " + Name(from) + " still holds " + left + " keys of slot " +
                             slot_text + ": MigrateKeys until it returns 0");
    }
    std::vector<int> order = {to, from};
    for (int master : Masters()) {
      if (master != to && master != from) order.push_back(master);
    }
    for (int index : order) {
      const std::string answer =
          Run(index, {"CLUSTER", "SETSLOT", slot_text, "NODE", nodes_[to].id});
      if (answer != "OK") {
        return Fail(error, "SETSLOT " + slot_text + " NODE on node " + Name(index) + ": " + answer);
      }
    }
    return WaitForOwner(slot, to, std::chrono::seconds(10), error);
  }

  // Undoes BeginMigration (CLUSTER SETSLOT <slot> STABLE on both), for keys not moved yet.
  bool CancelMigration(int slot, int from, int to, std::string* error) {
    if (!CheckPair(slot, from, to, error)) return false;
    for (int index : {from, to}) {
      const std::string answer = Run(index, {"CLUSTER", "SETSLOT", std::to_string(slot), "STABLE"});
      if (answer != "OK") {
        return Fail(error, "SETSLOT STABLE on node " + Name(index) + ": " + answer);
      }
    }
    return true;
  }

  // Waits until every live node's CLUSTER SLOTS says node `owner` serves `slot`.
  bool WaitForOwner(int slot, int owner, std::chrono::milliseconds deadline, std::string* error) {
    std::string why;
    if (WaitUntil(deadline, &why, [&](std::string* not_yet) {
          for (int i = 0; i < size(); ++i) {
            if (!Alive(i)) continue;
            const int seen = MasterForSlotAt(i, slot);
            if (seen != owner) {
              *not_yet = "node " + Name(i) + " says slot " + std::to_string(slot) +
                         " is served by node " + std::to_string(seen);
              return false;
            }
          }
          return Settled(false, 0, -1, not_yet);
        })) {
      return true;
    }
    return Fail(error, "slot " + std::to_string(slot) + " not on node " + Name(owner) +
                           " everywhere within " + std::to_string(deadline.count()) +
                           " ms: " + why);
  }

  // --- Failures -----------------------------------------------------------------------------

  // SIGSTOP or SIGCONT: the node freezes (its connections stay open, nothing is answered) and
  // thaws.
  void Signal(int index, int signal) { nodes_[index].server->Signal(signal); }

  // SIGKILL, as a crash would. The node keeps its index; the others go on listing it (as failed,
  // once they noticed).
  void Kill(int index) {
    if (!Alive(index)) return;
    // Its replicas, while it can still be asked: after the takeover no view names them as such.
    replicas_when_killed_[index] = ReplicasOf(index);
    nodes_[index].server->Kill();
  }

  // Waits until a replica of node `killed` (killed by Kill) serves in its place: the replica is a
  // master, no live node's CLUSTER SLOTS names the killed node any more, and every live node says
  // cluster_state:ok and gives the same CLUSTER SLOTS.
  //
  // The failover is the cluster's own: the others flag the node FAIL after kNodeTimeoutMs, its
  // replica is elected and takes over (about 2 s here). Only if no replica has taken over after 6
  // node timeouts (and `deadline` leaves time) is the takeover forced with CLUSTER FAILOVER
  // TAKEOVER on the first live replica; last_failover_forced() then says so.
  bool WaitForFailover(int killed, std::chrono::milliseconds deadline, std::string* error) {
    last_failover_forced_ = false;
    if (killed < 0 || killed >= size()) return Fail(error, "no node " + std::to_string(killed));
    if (Alive(killed)) return Fail(error, "node " + Name(killed) + " is alive: Kill it first");
    std::vector<int> replicas = replicas_when_killed_[killed];
    if (replicas.empty()) replicas = ReplicasOf(killed);
    replicas.erase(
        std::remove_if(replicas.begin(), replicas.end(), [&](int index) { return !Alive(index); }),
        replicas.end());
    if (replicas.empty()) {
      return Fail(error, "node " + Name(killed) + " has no live replica to take over");
    }
    const auto start = std::chrono::steady_clock::now();
    const auto force_at = start + std::chrono::milliseconds(6 * kNodeTimeoutMs);
    std::string why;
    const bool done = WaitUntil(deadline, &why, [&](std::string* not_yet) {
      bool promoted = false;
      for (int replica : replicas) {
        const std::string role = Run(replica, {"ROLE"});
        if (role.rfind("[master,", 0) == 0) promoted = true;
      }
      if (!promoted) {
        *not_yet = "no replica of node " + Name(killed) + " is a master yet";
        if (!last_failover_forced_ && std::chrono::steady_clock::now() >= force_at &&
            std::chrono::steady_clock::now() + std::chrono::seconds(2) < start + deadline) {
          last_failover_forced_ = true;
          const std::string answer = Run(replicas[0], {"CLUSTER", "FAILOVER", "TAKEOVER"});
          *not_yet +=
              "; forced CLUSTER FAILOVER TAKEOVER on node " + Name(replicas[0]) + ": " + answer;
        }
        return false;
      }
      if (!Settled(true, 0, -1, not_yet)) return false;
      const std::optional<SlotsView> view = ViewOf(FirstAlive(), not_yet);
      if (!view) return false;
      for (const RangeView& range : *view) {
        if (range.master_port == nodes_[killed].port) {
          *not_yet = "slots " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                     " are still on the killed node";
          return false;
        }
      }
      return true;
    });
    if (done) return true;
    return Fail(error, "no failover of node " + Name(killed) + " within " +
                           std::to_string(deadline.count()) + " ms: " + why +
                           (last_failover_forced_ ? " (takeover forced)" : "") +
                           "\nlog of replica " + Name(replicas[0]) + ":\n" +
                           LogTail(replicas[0], 15));
  }

  // The last `lines` lines of node `index`'s log file.
  std::string LogTail(int index, int lines) const {
    std::ifstream in(nodes_[index].dir + "/redis.log");
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string text;
    for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
         i < all.size(); ++i) {
      text += "  | " + all[i] + "\n";
    }
    return text.empty() ? "  | (empty)\n" : text;
  }

 private:
  struct Node {
    std::unique_ptr<RedisServer> server;
    int port = 0;
    int bus_port = 0;
    std::string id;
    std::string dir;
  };

  // One range of CLUSTER SLOTS as every node must see it: who serves it, who replicates it.
  struct RangeView {
    int first = 0;
    int last = 0;
    int master_port = 0;
    std::vector<int> replica_ports;  // sorted: CLUSTER SLOTS lists them in no promised order
    bool operator==(const RangeView&) const = default;
  };
  using SlotsView = std::vector<RangeView>;  // sorted by first slot

  // One line of CLUSTER NODES.
  struct NodeLine {
    std::string id;
    int port = 0;
    std::string flags;
    std::string master_id;  // "-" for a master
  };

  static bool Fail(std::string* error, std::string text) {
    if (error != nullptr) *error = std::move(text);
    return false;
  }

  std::string Name(int index) const {
    return std::to_string(index) + " (port " + std::to_string(nodes_[index].port) + ")";
  }

  static std::string Join(const std::vector<std::string>& args) {
    std::string text;
    for (const std::string& arg : args) text += (text.empty() ? "" : " ") + arg;
    return text;
  }

  bool CheckPair(int slot, int from, int to, std::string* error) const {
    if (slot < 0 || slot > 16383) return Fail(error, "no slot " + std::to_string(slot));
    if (from < 0 || from >= size() || to < 0 || to >= size() || from == to) {
      return Fail(error, "bad node pair " + std::to_string(from) + " -> " + std::to_string(to));
    }
    if (!Alive(from) || !Alive(to)) return Fail(error, "a node of the pair is not running");
    return true;
  }

  int IndexOfPort(int port) const {
    for (int i = 0; i < size(); ++i) {
      if (nodes_[i].port == port) return i;
    }
    return -1;
  }

  int FirstAlive() const {
    for (int i = 0; i < size(); ++i) {
      if (Alive(i)) return i;
    }
    return -1;
  }

  // A reply as one line of text, for error messages.
  static std::string Text(const redisReply* reply) {
    if (reply == nullptr) return "(no reply: connection failed or timed out)";
    return RedisClient::Render(reply);
  }

  // Node `index`'s CLUSTER SLOTS, reduced to a RangeView per range; nullopt (and `why`) if it did
  // not answer with one.
  std::optional<SlotsView> ViewOf(int index, std::string* why) const {
    Reply reply = Command(nodes_[index].port, {"CLUSTER", "SLOTS"});
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
      Fail(why, "CLUSTER SLOTS on node " + Name(index) + ": " + Text(reply.get()));
      return std::nullopt;
    }
    SlotsView view;
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* range = reply->element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
      RangeView entry;
      entry.first = static_cast<int>(range->element[0]->integer);
      entry.last = static_cast<int>(range->element[1]->integer);
      for (size_t j = 2; j < range->elements; ++j) {
        const redisReply* node = range->element[j];
        if (node->type != REDIS_REPLY_ARRAY || node->elements < 2) continue;
        const int port = static_cast<int>(node->element[1]->integer);
        if (j == 2) {
          entry.master_port = port;
        } else {
          entry.replica_ports.push_back(port);
        }
      }
      std::sort(entry.replica_ports.begin(), entry.replica_ports.end());
      view.push_back(std::move(entry));
    }
    std::sort(view.begin(), view.end(),
              [](const RangeView& a, const RangeView& b) { return a.first < b.first; });
    return view;
  }

  // Node `index`'s CLUSTER NODES; empty if it did not answer.
  std::vector<NodeLine> NodesOf(int index) const {
    std::vector<NodeLine> lines;
    Reply reply = Command(nodes_[index].port, {"CLUSTER", "NODES"});
    if (reply == nullptr || reply->type != REDIS_REPLY_STRING) return lines;
    std::istringstream text(std::string(reply->str, reply->len));
    for (std::string line; std::getline(text, line);) {
      std::istringstream fields(line);
      NodeLine entry;
      std::string address;
      if (!(fields >> entry.id >> address >> entry.flags >> entry.master_id)) continue;
      const size_t colon = address.rfind(':', address.find('@'));
      if (colon == std::string::npos) continue;
      entry.port = std::atoi(address.c_str() + colon + 1);
      lines.push_back(std::move(entry));
    }
    return lines;
  }

  // Whether the live nodes have settled: each knows all size() nodes, says cluster_state:ok (if
  // `require_ok`), and gives the same CLUSTER SLOTS. With `masters` > 0: that many nodes serve
  // slots. With `replicas` >= 0: each serving master lists that many replicas, every node is in
  // the map, and every replica's link to its master is up. `why` says what is not yet so.
  bool Settled(bool require_ok, int masters, int replicas, std::string* why) const {
    std::optional<SlotsView> first_view;
    int first_index = -1;
    const std::string known = "cluster_known_nodes:" + std::to_string(size()) + "\r\n";
    for (int i = 0; i < size(); ++i) {
      if (!Alive(i)) continue;
      const std::string info = Run(i, {"CLUSTER", "INFO"});
      if (require_ok && info.find("cluster_state:ok") == std::string::npos) {
        return Fail(why, "node " + Name(i) + " does not say cluster_state:ok");
      }
      if (info.find(known) == std::string::npos) {
        return Fail(
            why, "node " + Name(i) + " does not know all " + std::to_string(size()) + " nodes yet");
      }
      std::optional<SlotsView> view = ViewOf(i, why);
      if (!view) return false;
      if (!first_view) {
        first_view = std::move(view);
        first_index = i;
      } else if (*view != *first_view) {
        return Fail(why, "nodes " + Name(first_index) + " and " + Name(i) +
                             " give different CLUSTER SLOTS");
      }
    }
    if (!first_view) return Fail(why, "no node is running");
    std::set<int> serving;
    std::set<int> replica_ports;
    for (const RangeView& range : *first_view) {
      serving.insert(range.master_port);
      replica_ports.insert(range.replica_ports.begin(), range.replica_ports.end());
      if (replicas >= 0 && static_cast<int>(range.replica_ports.size()) != replicas) {
        return Fail(why, "slots " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                             " list " + std::to_string(range.replica_ports.size()) +
                             " replicas, not " + std::to_string(replicas));
      }
    }
    if (masters > 0 && static_cast<int>(serving.size()) != masters) {
      return Fail(why, std::to_string(serving.size()) + " masters serve slots, not " +
                           std::to_string(masters));
    }
    if (replicas < 0) return true;
    for (int i = 0; i < size(); ++i) {
      if (!Alive(i)) continue;
      const bool is_replica = replica_ports.count(nodes_[i].port) > 0;
      if (!is_replica && serving.count(nodes_[i].port) == 0) {
        return Fail(why, "node " + Name(i) + " neither serves slots nor replicates yet");
      }
      if (is_replica &&
          Run(i, {"INFO", "replication"}).find("master_link_status:up") == std::string::npos) {
        return Fail(why, "replica " + Name(i) + " has not finished its first sync");
      }
    }
    return true;
  }

  // Calls `done` every 50 ms until it returns true (then true) or `deadline` has passed (then
  // false, with `why` from the last call).
  static bool WaitUntil(std::chrono::milliseconds deadline, std::string* why,
                        const std::function<bool(std::string*)>& done) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      if (done(why)) return true;
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Makes the temporary root and starts `count` cluster-enabled nodes, each on a free port with
  // its bus on another free port (so no port + 10000 need be free), its own directory, nodes.conf
  // and log file.
  bool StartNodes(int count, std::string* error) {
    std::string root_template =
        (std::filesystem::temp_directory_path() / "switchboard-cluster-XXXXXX").string();
    if (mkdtemp(root_template.data()) == nullptr) {
      return Fail(error, std::string("mkdtemp: ") + std::strerror(errno));
    }
    root_ = root_template;
    for (int i = 0; i < count; ++i) {
      if (!StartNode(error)) {
        const std::string why = *error;
        Stop();
        return Fail(error,
                    "node " + std::to_string(i) + " of " + std::to_string(count) + ": " + why);
      }
    }
    for (int i = 0; i < count; ++i) {
      nodes_[i].id = Run(i, {"CLUSTER", "MYID"});
      if (nodes_[i].id.size() != 40) {
        return Fail(error, "CLUSTER MYID on node " + Name(i) + ": " + nodes_[i].id);
      }
    }
    return true;
  }

  bool StartNode(std::string* error) {
    std::string last = "no free port pair";
    for (int attempt = 0; attempt < 8; ++attempt) {
      const int port = FreeLoopbackPort();
      const int bus_port = FreeLoopbackPort();
      if (port == 0 || bus_port == 0 || port == bus_port || Taken(port) || Taken(bus_port))
        continue;
      Node node;
      node.port = port;
      node.bus_port = bus_port;
      node.dir = root_ + "/" + std::to_string(port);
      std::error_code ec;
      std::filesystem::create_directories(node.dir, ec);
      if (ec) return Fail(error, "cannot make " + node.dir + ": " + ec.message());
      node.server = std::make_unique<RedisServer>();
      const std::vector<std::string> args = {
          "--cluster-enabled", "yes", "--cluster-port", std::to_string(bus_port),
          "--cluster-config-file", node.dir + "/nodes-" + std::to_string(port) + ".conf",
          "--cluster-node-timeout", std::to_string(kNodeTimeoutMs), "--dir", node.dir, "--logfile",
          node.dir + "/redis.log",
          // A replica's first sync at once, not after the default 5 s wait for more replicas:
          // until it is done the replica cannot take over from its master.
          "--repl-diskless-sync-delay", "0",
          // Redis 7 leaves a replica out of CLUSTER SLOTS until its replication offset is not 0,
          // which on an idle master takes its first ping to the replica: every second, not 10.
          "--repl-ping-replica-period", "1"};
      if (node.server->Start(port, &last, args)) {
        nodes_.push_back(std::move(node));
        return true;
      }
      std::ifstream log(node.dir + "/redis.log");
      std::stringstream text;
      text << log.rdbuf();
      last += text.str();
      std::filesystem::remove_all(node.dir, ec);
    }
    return Fail(error, "cannot start a cluster node: " + last);
  }

  bool Taken(int port) const {
    for (const Node& node : nodes_) {
      if (node.port == port || node.bus_port == port) return true;
    }
    return false;
  }

  // Runs `args` (the program looked up on the PATH) until it exits, with its stdout and stderr
  // (terminal colour codes removed) in `output`. Killed at `timeout`. Returns its exit status, or
  // -1 if it could not run or did not finish in time (`output` says which).
  static int RunProgram(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                        std::string* output) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (std::string& arg : copy) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      *output = std::string("pipe2: ") + std::strerror(errno);
      return -1;
    }
    const std::string exec_failed = "cannot run " + args[0] + " (install it: redis-tools)\n";
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      *output = std::string("fork: ") + std::strerror(errno);
      close(pipe_fds[0]);
      close(pipe_fds[1]);
      return -1;
    }
    if (pid == 0) {  // only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      const int in = open("/dev/null", O_RDONLY);
      if (in >= 0) dup2(in, STDIN_FILENO);
      dup2(pipe_fds[1], STDOUT_FILENO);
      dup2(pipe_fds[1], STDERR_FILENO);
      execvp(argv[0], argv.data());
      if (write(STDERR_FILENO, exec_failed.data(), exec_failed.size()) < 0) _exit(127);
      _exit(127);
    }
    close(pipe_fds[1]);
    std::string raw;
    bool timed_out = false;
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      pollfd readable{pipe_fds[0], POLLIN, 0};
      const int ready = poll(&readable, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char buffer[4096];
      const ssize_t got = read(pipe_fds[0], buffer, sizeof(buffer));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      raw.append(buffer, static_cast<size_t>(got));
    }
    close(pipe_fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *output = StripColours(raw);
    if (timed_out) {
      *output += "\n(killed after " + std::to_string(timeout.count()) + " ms)";
      return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // `text` without ANSI escape sequences (redis-cli colours its --cluster output).
  static std::string StripColours(std::string_view text) {
    std::string plain;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
        i += 2;
        while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
        continue;
      }
      plain += text[i];
    }
    return plain;
  }

  std::vector<Node> nodes_;
  std::string root_;
  std::map<int, std::vector<int>> replicas_when_killed_;  // by the index of the node killed
  bool last_failover_forced_ = false;
};

}  // namespace switchboard::routing
