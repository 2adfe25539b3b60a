#include "routing/redis_link.h"

#include <algorithm>
#include <random>
#include <utility>

#include "routing/cluster_redirect.h"
#include "routing/cluster_slot.h"

namespace switchboard::routing {

namespace {

std::string_view ReplyText(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

double RandomUnit() {
  std::random_device device;
  return std::uniform_real_distribution<double>(0.0, 1.0)(device);
}

std::string AddressText(const RedisAddress& address) {
  return ToString(NodeAddress{address.host, address.port});
}

uint64_t RandomIncarnation() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

}  // namespace

// A command on a cluster, kept until its final reply so that it can follow redirects.
struct RedisLink::Request {
  int script = -1;  // -1: a plain command
  std::vector<std::string> keys;
  std::vector<std::string> args;
  uint16_t slot = 0;
  int follow_ups = 0;
  std::string refusal;  // the last TRYAGAIN or CLUSTERDOWN it got
  uint64_t order = 0;   // when it was first dispatched: older commands have lower numbers
  RedisConnection::ReplyCallback done;
};

RedisLink::RedisLink(uv_loop_t* loop, Options options, Events events)
    : loop_(loop),
      options_(std::move(options)),
      events_(std::move(events)),
      backoff_(std::chrono::milliseconds(100), std::chrono::milliseconds(5000)),
      subscription_probe_({.channels = options_.channels.size()}, RandomIncarnation()) {
  if (options_.sentinel) {
    resolver_.emplace(SentinelResolver::Options{.master_name = options_.sentinel->master_name,
                                                .sentinels = options_.sentinel->sentinels,
                                                .random_unit = RandomUnit});
  }
  for (uv_timer_t* timer :
       {&sentinel_defer_timer_, &sentinel_deadline_timer_, &sentinel_watch_timer_}) {
    uv_timer_init(loop_, timer);
    timer->data = this;
  }
  uv_timer_init(loop_, &reconnect_timer_);
  reconnect_timer_.data = this;
  uv_timer_init(loop_, &heartbeat_timer_);
  heartbeat_timer_.data = this;
  uv_timer_init(loop_, &retry_timer_);
  retry_timer_.data = this;
  seeds_.push_back(options_.address);
}

RedisLink::~RedisLink() { Close(); }

void RedisLink::Start() {
  auto on_heartbeat = [](uv_timer_t* timer) { static_cast<RedisLink*>(timer->data)->Heartbeat(); };
  const auto period = static_cast<uint64_t>(options_.heartbeat.count());
  uv_timer_start(&heartbeat_timer_, on_heartbeat, period, period);
  if (resolver_) WatchSentinels();
  Connect();
}

// Runs from Start() or the reconnect timer, never from a node's callback, so the nodes of the
// last attempt can be destroyed here.
void RedisLink::Connect() {
  if (closing_) return;
  nodes_.clear();
  if (resolver_) {
    CarrySentinelStep(resolver_->Begin(Clock::now()));
  } else if (options_.cluster) {
    AskForSlots();
  } else {
    ConnectNodes();
  }
}

std::unique_ptr<RedisNode> RedisLink::MakeNode(RedisAddress address) {
  std::vector<std::string> scripts = options_.scripts;
  return std::make_unique<RedisNode>(
      loop_, std::move(address), std::move(scripts), options_.cluster ? "SSUBSCRIBE" : "SUBSCRIBE",
      RedisNode::Events{
          .ready = [this] { OnNodeReady(); },
          .lost = [this](std::string_view why) { OnLost(why); },
          .message =
              [this](std::string_view message) {
                if (closing_) return;
                if (SubscriptionProbe::IsProbe(message)) {
                  subscription_probe_.OnMessage(message, Clock::now());
                } else if (events_.message) {
                  events_.message(message);
                }
              },
          .unsubscribed =
              [this](std::string_view channel) {
                OnLost("the slot of channel " + std::string(channel) + " moved to another node");
              },
          .refused =
              [this](std::string_view error) {
                // A redirect is followed (OnReply), not refused.
                const auto redirect = ParseClusterRedirect(error);
                if (IsDemotion(error)) {
                  OnLost("the master became a replica: " + std::string(error));
                } else if (!redirect || redirect->kind == RedirectKind::kNone) {
                  NoteRefusal("a script", error);
                }
              },
          .reloading =
              [this](std::string_view error) {
                if (events_.log)
                  events_.log(true, "redis lost its scripts; loading them again", error);
              }});
}

// Cluster: a seed (or a master of the last map, in turn) tells the slot map.
void RedisLink::AskForSlots() {
  const RedisAddress asked = seeds_[next_seed_++ % seeds_.size()];
  probe_ = std::make_unique<RedisConnection>(
      loop_, asked, "cluster-slots",
      RedisConnection::Events{.connected =
                                  [this, asked] {
                                    probe_->Command({"CLUSTER", "SLOTS"},
                                                    [this, asked](redisReply* reply) {
                                                      OnSlots(asked, reply);
                                                    });
                                  },
                              .lost = [this](std::string_view why) { OnLost(why); }});
  probe_->Connect();
}

void RedisLink::OnSlots(const RedisAddress& asked, redisReply* reply) {
  if (reply == nullptr || closing_) return;  // lost: reported by the probe
  probe_->Quit();
  if (reply->type == REDIS_REPLY_ERROR) {
    OnLost("--redis-cluster is set, but " + AddressText(asked) +
           " answered CLUSTER SLOTS with: " + std::string(ReplyText(reply)));
    return;
  }
  std::string error;
  std::optional<SlotMap> map = SlotMap::FromClusterSlots(reply, asked.host, &error);
  if (!map) {
    OnLost("CLUSTER SLOTS from " + AddressText(asked) + ": " + error);
    return;
  }
  if (!map->Complete()) {
    OnLost("the cluster serves " + std::to_string(map->CoveredSlots()) + " of 16384 slots");
    return;
  }
  slots_ = std::move(*map);
  ConnectNodes();
}

void RedisLink::ConnectNodes() {
  if (!options_.cluster) {
    nodes_.push_back(MakeNode(options_.address));
    nodes_.back()->Connect(options_.channels);
    return;
  }
  const std::vector<NodeAddress> masters = slots_.Masters();
  seeds_.resize(1);
  node_of_slot_.assign(kClusterSlotCount, 0);
  in_flight_.assign(kClusterSlotCount, 0);
  for (const NodeAddress& master : masters) {
    RedisAddress address = options_.address;
    address.host = master.host;
    address.port = master.port;
    address.db = 0;  // a cluster has database 0 only
    seeds_.push_back(address);
    nodes_.push_back(MakeNode(std::move(address)));
  }
  for (uint16_t slot = 0; slot < kClusterSlotCount; ++slot) {
    const NodeAddress* master = slots_.MasterFor(slot);
    node_of_slot_[slot] =
        static_cast<uint16_t>(std::find(masters.begin(), masters.end(), *master) - masters.begin());
  }
  std::vector<std::vector<std::string>> channels(nodes_.size());
  for (const std::string& channel : options_.channels) {
    channels[node_of_slot_[KeySlot(channel)]].push_back(channel);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->Connect(std::move(channels[i]));
}

void RedisLink::OnNodeReady() {
  for (const auto& node : nodes_) {
    if (!node->ready()) return;  // wait for the others
  }
  for (const auto& node : nodes_) {
    if (node->cluster_enabled() && !options_.cluster) {
      OnLost(
          AddressText(node->address()) +
          " is a Redis Cluster node: start with --redis-cluster (SWITCHBOARD_REDIS_CLUSTER=true)");
      return;
    }
    // Behind Sentinel a new master (a failover) counts as a restart: it may lack what the old
    // one had not replicated yet.
    std::string& known = run_ids_[options_.sentinel ? "sentinel " + options_.sentinel->master_name
                                                    : AddressText(node->address())];
    if (!known.empty() && known != node->run_id()) restarted_ = true;
    known = node->run_id();
  }
  if (!up_) OnUp();
}

void RedisLink::OnUp() {
  up_ = true;
  last_failure_.clear();
  backoff_.Reset();
  if (events_.log) {
    std::string where;
    for (const auto& node : nodes_) {
      where += (where.empty() ? "" : " ") + AddressText(node->address());
    }
    events_.log(false, "redis up", where);
  }
  subscription_probe_.Resume(Clock::now());
  Heartbeat();
  const bool restarted = restarted_;
  restarted_ = false;
  if (events_.up) events_.up(restarted);
}

void RedisLink::OnLost(std::string_view why) {
  if (closing_) return;
  const bool was_up = up_;
  up_ = false;
  heartbeat_sent_at_.reset();
  subscription_probe_.Pause();
  if (resolver_) {
    resolver_->Stop();
    deferred_step_.reset();
    uv_timer_stop(&sentinel_deadline_timer_);
  }
  if (was_up && events_.down) events_.down();
  // The nodes are one link: drop them all, so that they come back together and no subscription
  // is missing while commands flow.
  FailGated();
  for (const auto& node : nodes_) node->Drop();
  if (probe_) probe_->Drop();
  if (was_up) {
    ++reconnects_;
    if (events_.log) events_.log(true, "redis lost", why);
  } else if (why != last_failure_ && events_.log) {
    // Once per cause, not per retry: a wrong password or host must show in the logs without
    // flooding them while it lasts.
    events_.log(true, "redis unreachable", why);
  }
  last_failure_ = std::string(why);
  ScheduleReconnect();
}

void RedisLink::ScheduleReconnect() {
  if (closing_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&reconnect_timer_))) return;
  const auto delay = backoff_.Next(RandomUnit());
  uv_timer_start(
      &reconnect_timer_, [](uv_timer_t* timer) { static_cast<RedisLink*>(timer->data)->Connect(); },
      static_cast<uint64_t>(delay.count()), 0);
}

void RedisLink::Heartbeat() {
  const auto now = Clock::now();
  const auto since_last = now - last_heartbeat_timer_;
  last_heartbeat_timer_ = now;
  const bool stalled = since_last > 2 * options_.heartbeat;
  if (stalled && events_.stalled) events_.stalled(since_last);
  if (!up_) return;
  if (stalled) {
    // The probe in flight may be waiting in the socket, unread: it proves nothing either way.
    subscription_probe_.Pause();
    subscription_probe_.Resume(now);
  }
  if (heartbeat_sent_at_ && now - *heartbeat_sent_at_ > options_.alive_ttl) {
    OnLost("no reply from Redis within the liveness TTL");
    return;
  }
  if (!heartbeat_sent_at_) {
    heartbeat_sent_at_ = now;
    heartbeat_replies_due_ = options_.liveness_keys.size();
    heartbeat_refused_ = false;
    const std::string ttl = std::to_string(options_.alive_ttl.count());
    for (const std::string& key : options_.liveness_keys) {
      Command({"SET", key, "1", "PX", ttl}, [this](redisReply* reply) { OnHeartbeatReply(reply); });
    }
  }
  ProbeSubscription(now);
  if (!up_) return;  // the probe found the subscription dead
  if (events_.heartbeat) events_.heartbeat();
}

int64_t RedisLink::RunDeadlineMs() const {
  const Clock::time_point now = Clock::now();
  const Clock::duration left = heartbeat_sent_at_.value_or(now) - now + options_.alive_ttl;
  const auto deadline = std::chrono::system_clock::now() + left - kClockMargin;
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
}

// The key may have lapsed if Redis refused to set it, or if more than its TTL passed between two
// accepted sets (this pod was frozen or starved: its timers did not run).
void RedisLink::OnHeartbeatReply(redisReply* reply) {
  if (closing_ || reply == nullptr || !heartbeat_sent_at_) return;  // lost: OnUp() follows
  if (reply->type == REDIS_REPLY_ERROR && IsDemotion(ReplyText(reply))) {
    OnLost("the master became a replica: " + std::string(ReplyText(reply)));
    return;
  }
  if (reply->type == REDIS_REPLY_ERROR && !heartbeat_refused_) {
    NoteRefusal("the liveness key", ReplyText(reply));
    heartbeat_refused_ = true;
  }
  if (--heartbeat_replies_due_ > 0) return;
  const Clock::time_point sent_at = *heartbeat_sent_at_;
  heartbeat_sent_at_.reset();
  if (heartbeat_refused_) {
    liveness_lapsed_ = true;
    return;
  }
  const bool lapsed =
      liveness_lapsed_ || (last_alive_at_ && sent_at - *last_alive_at_ > options_.alive_ttl);
  last_alive_at_ = sent_at;
  liveness_lapsed_ = false;
  last_refusal_.clear();
  if (events_.alive) events_.alive(lapsed);
}

// An error answer is a failure, never an answer.
void RedisLink::NoteRefusal(std::string_view what, std::string_view error) {
  ++errors_;
  std::string cause = std::string(what) + ": " + std::string(error);
  if (cause == last_refusal_) return;
  if (events_.log) events_.log(true, "redis refused a command", cause);
  last_refusal_ = std::move(cause);
}

RedisNode* RedisLink::NodeFor(uint16_t slot) {
  if (nodes_.empty()) return nullptr;
  if (!options_.cluster) return nodes_.front().get();
  return nodes_[node_of_slot_[slot]].get();
}

bool RedisLink::Command(const std::vector<std::string_view>& args,
                        RedisConnection::ReplyCallback done) {
  if (!up_) return false;
  if (!options_.cluster) return nodes_.front()->Command(args, std::move(done));
  auto request = std::make_shared<Request>();
  request->args.assign(args.begin(), args.end());
  request->slot = args.size() > 1 ? KeySlot(args[1]) : 0;
  request->done = std::move(done);
  Dispatch(std::move(request));
  return true;
}

void RedisLink::RunScript(int script, const std::vector<std::string_view>& keys,
                          const std::vector<std::string_view>& args,
                          RedisConnection::ReplyCallback done) {
  if (!up_) {
    if (done) done(nullptr);
    return;
  }
  if (!options_.cluster) {
    nodes_.front()->RunScript(script, keys, args, std::move(done));
    return;
  }
  auto request = std::make_shared<Request>();
  request->script = script;
  request->keys.assign(keys.begin(), keys.end());
  request->args.assign(args.begin(), args.end());
  request->slot = keys.empty() ? 0 : KeySlot(keys.front());
  request->done = std::move(done);
  Dispatch(std::move(request));
}

// A command for a slot whose redirect is being followed waits behind the redirected ones.
void RedisLink::Dispatch(std::shared_ptr<Request> request) {
  if (request->order == 0) request->order = ++dispatched_;
  if (auto gate = gates_.find(request->slot); gate != gates_.end()) {
    gate->second.held.push_back(std::move(request));
    return;
  }
  RedisNode* node = NodeFor(request->slot);
  Send(std::move(request), node, /*asking=*/false);
}

void RedisLink::Send(std::shared_ptr<Request> request, RedisNode* node, bool asking) {
  ++in_flight_[request->slot];
  auto on_reply = [this, request, node](redisReply* reply) { OnReply(request, node, reply); };
  if (asking) node->Command({"ASKING"}, nullptr);
  if (request->script >= 0) {
    node->RunScript(
        request->script, std::vector<std::string_view>(request->keys.begin(), request->keys.end()),
        std::vector<std::string_view>(request->args.begin(), request->args.end()), on_reply);
  } else if (!node->Command(
                 std::vector<std::string_view>(request->args.begin(), request->args.end()),
                 on_reply)) {
    on_reply(nullptr);
  }
}

// A redirect is followed to a node of the link; one to a node it does not know means the slot
// map changed more than one slot's worth: the link reconnects (with a fresh map), and the
// command fails, so its caller tells whoever waits for it.
//
// Order: commands of one slot leave on one connection and are answered in order, so their
// redirects come back in order too. But a command sent to the new node as soon as the first
// redirect came would overtake older ones still on their way to the old node. So the slot is
// gated (gates_): newer commands for it wait until every command already sent for it is answered,
// then the redirected ones go, in the order they were sent, and then the newer ones.
void RedisLink::OnReply(const std::shared_ptr<Request>& request, const RedisNode* asked,
                        redisReply* reply) {
  --in_flight_[request->slot];
  if (reply == nullptr || reply->type != REDIS_REPLY_ERROR || closing_ || !up_) {
    if (!gates_.empty() && reply != nullptr && reply->type != REDIS_REPLY_ERROR && !closing_) {
      FailOvertakenRetries(request->slot, request->order);
    }
    if (request->done) request->done(reply);
    OpenGateOnceAnswered(request->slot);
    return;
  }
  const RedirectDecision decision =
      DecideRedirect(ReplyText(reply), asked->address().host, request->follow_ups);
  if (decision.action == RedirectAction::kDeliver || decision.action == RedirectAction::kFail) {
    if (request->done) request->done(reply);
    OpenGateOnceAnswered(request->slot);
    return;
  }
  ++request->follow_ups;
  Gate& gate = gates_[request->slot];
  if (decision.action == RedirectAction::kRetry) {
    request->refusal = ReplyText(reply);
    AddAgain(gate, {request, /*redirected=*/false});
    gate.retry_at = std::max(gate.retry_at, Clock::now() + decision.delay);
    const auto delay_ms = std::chrono::ceil<std::chrono::milliseconds>(decision.delay).count();
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&retry_timer_)) ||
        uv_timer_get_due_in(&retry_timer_) > static_cast<uint64_t>(delay_ms)) {
      ArmRetryTimer(decision.delay);
    }
    return;
  }
  auto target = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& node) {
    return node->address().host == decision.target.host &&
           node->address().port == decision.target.port;
  });
  if (target == nodes_.end()) {
    if (request->done) request->done(nullptr);
    OnLost("slot " + std::to_string(decision.slot) + " moved to " + ToString(decision.target) +
           ", a node this pod is not connected to");
    return;
  }
  gate.target = static_cast<size_t>(target - nodes_.begin());
  gate.moved = decision.action == RedirectAction::kFollowMoved;
  AddAgain(gate, {request, /*redirected=*/true});
  OpenGateOnceAnswered(request->slot);
}

void RedisLink::OpenGateOnceAnswered(uint16_t slot) {
  auto it = gates_.find(slot);
  if (it == gates_.end() || in_flight_[slot] > 0 || Clock::now() < it->second.retry_at) return;
  if (SendFirstOfMixedGate(it->second, slot)) return;
  Gate gate = std::move(it->second);
  gates_.erase(it);
  if (gate.moved) node_of_slot_[slot] = static_cast<uint16_t>(gate.target);
  for (Gate::Again& again : gate.again) {
    if (again.redirected) {
      Send(std::move(again.request), nodes_[gate.target].get(), /*asking=*/!gate.moved);
    } else {
      Send(std::move(again.request), NodeFor(slot), /*asking=*/false);
    }
  }
  for (std::shared_ptr<Request>& request : gate.held) Dispatch(std::move(request));
}

// A command refused again while newer ones of its gate still wait (SendFirstOfMixedGate) goes
// back before them.
void RedisLink::AddAgain(Gate& gate, Gate::Again again) {
  auto newer = std::find_if(gate.again.begin(), gate.again.end(), [&](const Gate::Again& other) {
    return other.request->order > again.request->order;
  });
  gate.again.insert(newer, std::move(again));
}

// A gate may hold both commands redirected by ASK (to the target, each after ASKING) and commands
// to retry (to the slot's own node). Sent at once, they would race each other on two
// connections: only the first run of commands for one node goes, and the gate stays closed until
// they are answered. Returns false when every command in the gate goes to one node.
bool RedisLink::SendFirstOfMixedGate(Gate& gate, uint16_t slot) {
  auto node_of = [&](const Gate::Again& again) {
    return again.redirected ? nodes_[gate.target].get() : NodeFor(slot);
  };
  if (gate.moved || gate.again.empty()) return false;  // after MOVED, both go to the target
  RedisNode* first = node_of(gate.again.front());
  size_t run = 0;
  while (run < gate.again.size() && node_of(gate.again[run]) == first) ++run;
  if (run == gate.again.size()) return false;
  for (size_t i = 0; i < run; ++i) {
    Gate::Again again = std::move(gate.again.front());
    gate.again.pop_front();
    Send(std::move(again.request), first, /*asking=*/again.redirected);
  }
  return true;
}

// A command of `slot` was answered while older ones wait in its gate to be retried (TRYAGAIN,
// CLUSTERDOWN: the cluster refused them for a moment, and took this one sent after them). Sent
// again, they would run after it: they fail instead, with the refusal they got, and their
// callers tell whoever waits for them. Redirected ones stay: a redirect holds for the whole slot.
void RedisLink::FailOvertakenRetries(uint16_t slot, uint64_t answered_order) {
  auto it = gates_.find(slot);
  if (it == gates_.end()) return;
  std::vector<std::shared_ptr<Request>> overtaken;
  std::erase_if(it->second.again, [&](Gate::Again& again) {
    if (again.redirected || again.request->order > answered_order) return false;
    overtaken.push_back(std::move(again.request));
    return true;
  });
  if (overtaken.empty()) return;
  it->second.retry_at = {};  // the held ones need not wait for a retry that will not come
  for (const std::shared_ptr<Request>& request : overtaken) {
    if (!request->done) continue;
    const std::string refusal = request->refusal + " (overtaken by a newer command of its slot)";
    redisReply error{};
    error.type = REDIS_REPLY_ERROR;
    error.str = const_cast<char*>(refusal.c_str());
    error.len = refusal.size();
    request->done(&error);
  }
}

// The link is lost: what waits behind a redirect fails like what was in flight.
void RedisLink::FailGated() {
  std::unordered_map<uint16_t, Gate> gates = std::move(gates_);
  gates_.clear();
  for (auto& [slot, gate] : gates) {
    for (const Gate::Again& again : gate.again) {
      if (again.request->done) again.request->done(nullptr);
    }
    for (const std::shared_ptr<Request>& request : gate.held) {
      if (request->done) request->done(nullptr);
    }
  }
}

// Opens the gates whose retry is due (TRYAGAIN, CLUSTERDOWN): their commands go again, in the
// order they were sent, once every command sent for the slot before is answered, and before the
// ones held since. (Sent at once, a retry could arrive after a newer command that succeeded.)
void RedisLink::Retry() {
  const Clock::time_point now = Clock::now();
  std::vector<uint16_t> due;
  std::optional<Clock::time_point> next;
  for (const auto& [slot, gate] : gates_) {
    if (gate.retry_at <= now) {
      due.push_back(slot);
    } else if (!next || gate.retry_at < *next) {
      next = gate.retry_at;
    }
  }
  for (uint16_t slot : due) OpenGateOnceAnswered(slot);
  if (next) ArmRetryTimer(*next - now);
}

void RedisLink::ArmRetryTimer(Clock::duration delay) {
  uv_timer_start(
      &retry_timer_, [](uv_timer_t* timer) { static_cast<RedisLink*>(timer->data)->Retry(); },
      static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(delay).count()) + 1, 0);
}

const LatencyHistogram& RedisLink::script_latency() const {
  return nodes_.empty() ? no_latency_ : nodes_.front()->script_latency();
}

void RedisLink::Close() {
  if (closing_) return;
  if (up_) {
    for (const std::string& key : options_.liveness_keys) Command({"DEL", key}, nullptr);
  }
  closing_ = true;
  up_ = false;
  for (const auto& node : nodes_) node->Quit();
  if (probe_) probe_->Drop();
  if (sentinel_watch_) sentinel_watch_->Drop();
  FailGated();
  for (uv_timer_t* timer :
       {&reconnect_timer_, &heartbeat_timer_, &retry_timer_, &sentinel_defer_timer_,
        &sentinel_deadline_timer_, &sentinel_watch_timer_}) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(timer))) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
    }
  }
}

}  // namespace switchboard::routing
