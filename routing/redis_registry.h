// The multi-pod routing backend: peer ids, queues and cross-pod delivery shared through Redis.
//
// Every pod keeps its own peers in a local table and delivers to them directly. For a peer on
// another pod it publishes the frame straight to that pod's channel when its OwnerCache knows the
// pod (one PUBLISH, no script), else it runs the route script (redis_scripts.h), which looks the
// owner up and publishes there, or queues the frame in Redis. Registering claims the id and takes
// its queue in one step. A frame that reaches a pod which no longer holds its target comes back to
// the sender's pod (a bounce), which forgets the stale entry and routes it again, in order, behind
// a fence (DetourTable). A pod releasing a peer keeps what still arrives for it until its own
// release marker comes back on its channel, and puts those frames in front of the peer's queue.
//
// The keys are split into buckets (key_layout.h) so that each step touches one Redis Cluster slot,
// and the link (redis_link.h) talks to one server or to every master of a cluster. When the link
// drops, every local peer is registered again (Redis may have restarted empty). Meanwhile local
// traffic goes on and cross-pod sends are answered with "unavailable".
// See docs/architecture.md for the whole design and why message order holds.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "routing/delivery_receipts.h"
#include "routing/detour_table.h"
#include "routing/expiry_tracker.h"
#include "routing/key_layout.h"
#include "routing/latency_histogram.h"
#include "routing/owner_cache.h"
#include "routing/peer_table.h"
#include "routing/pod_message.h"
#include "routing/queue_budget.h"
#include "routing/redis_link.h"
#include "routing/redis_swarm_directory.h"
#include "routing/redis_url.h"
#include "routing/registry.h"

namespace switchboard::routing {

class RedisRegistry : public Registry {
 public:
  struct Options {
    RedisAddress address;  // with `cluster`, one node of a Redis Cluster
    bool cluster = false;
    std::optional<RedisLink::Options::Sentinel> sentinel;  // the master behind Redis Sentinel
    std::string prefix = "switchboard";
    std::string pod_id;
    Clock::duration expire = std::chrono::milliseconds(5000);
    size_t max_queued_per_peer = 256;
    QueueBudget::Limits queue_budget = {};  // what one sender of this pod, and all, may have queued
    SwarmTable::Limits swarm_limits = {};   // swarm_directory.h (max_swarms is not used)
    std::chrono::milliseconds heartbeat = std::chrono::milliseconds(1000);  // liveness refresh
    std::chrono::milliseconds alive_ttl = std::chrono::milliseconds(3000);  // liveness key TTL
    size_t owner_cache_size = 100000;  // remote peers whose pod this pod remembers
    // Sets how long frames published to another pod wait before their senders are told they
    // may be lost (delivery_receipts.h): twice this once Redis has run an ask that nobody
    // answers, three times this in any case. The stall that makes a pod drop its backlog is
    // derived from it. Receipts are sent four times a second.
    std::chrono::milliseconds receipt_timeout = std::chrono::milliseconds(3000);
    // Where the backend reports what operators should know (connected, lost, reaped pods...).
    // `warning` is false for good news.
    std::function<void(bool warning, std::string_view message, std::string_view detail)> log;
  };

  // A backend on `loop` (not owned; must outlive it). Call Start() to connect. To end it: Close(),
  // run the loop until its handles are closed, then destroy it.
  RedisRegistry(uv_loop_t* loop, Options options);
  ~RedisRegistry() override;

  // Connects, and keeps reconnecting with backoff whenever the link is lost.
  void Start();

  // True while both connections are up, subscribed and have the scripts loaded.
  bool up() const { return link_.up(); }

  void Register(std::string_view peer, std::string_view token, PeerConnection* connection,
                RegisterCallback done) override;
  void Unregister(std::string_view peer, PeerConnection* connection,
                  std::vector<UnsentFrame> unsent) override;
  void Route(std::string_view from, std::string_view to, RoutedFrame frame,
             std::string_view ref) override;
  void ListPeers(ListCallback done) override;
  void Tick(Clock::time_point now) override;
  RoutingStats stats() const override;
  void ExchangeLoads(const PodLoad& own, LoadsCallback done) override;
  SwarmDirectory& swarms() override { return swarms_; }
  // Nothing is on its way while the link is down: what was is told already, or waits for a
  // link this pod will not see again.
  bool Settled() const override;
  void Close() override;

 private:
  struct Held;
  struct ClaimAnswer;
  struct Registering;
  struct Successor;
  struct Publish;
  struct Releasing;

  // The link (redis_link.h) and what this pod does when it comes and goes.
  void OnUp(bool restarted);
  void OnDown();
  void OnAlive(bool lapsed);
  void OnHeartbeat();
  void ForgetQueuesLostWithRedis();
  // Claims every local peer (or one) again, holding its frames as a registration does.
  void ReclaimAll();
  void Reclaim(const std::string& peer);

  // Runs the register step for `peer`; `before_queue` and `held` are frames to deliver before
  // and after the queue it hands back.
  void SendRegister(const std::string& peer, std::string_view token, PeerConnection* connection,
                    RegisterCallback done, RegisterResult local_result,
                    std::vector<Held> before_queue, std::vector<Held> held);
  // A register step's reply; the claim settles once its marker (C<peer> <nonce>) has come back on
  // this pod's channel too, if the step published one.
  void OnRegisterReply(const std::string& peer, redisReply* reply);
  static ClaimAnswer ReadClaimAnswer(const redisReply* reply);
  void OnClaimMarker(std::string_view peer, std::string_view nonce);
  // Settles the claim of `peer` with `answer`: the peer is served here (or refused, or the id
  // given back if its connection left), and gets the frames held for it, in order.
  void SettleClaim(const std::string& peer, ClaimAnswer answer);
  // The frames `claim` holds and `queue` (what its step handed over), in the order the peer must
  // get them (Registering says why).
  static std::vector<Held> InClaimOrder(Registering& claim, std::vector<Held> queue);
  // Makes `connection` register once the abandoned `claim` (or the connection already waiting
  // for it) has given the id back, instead of being refused for the old holder's token.
  void WaitForAbandonedClaim(Registering& claim, std::string_view token, PeerConnection* connection,
                             RegisterCallback done);
  void SendUnregister(const std::string& peer);
  // Releases a peer that left this pod (the release step) and keeps what still arrives for it
  // until the release marker comes back (OnReleased).
  void SendRelease(const std::string& peer, std::vector<Held> unsent);
  void StartRelease(const std::string& peer);
  void OnReleased(std::string_view peer, std::string_view nonce);
  void SendRequeue(const std::string& peer);
  void ResumeReleases();
  void FinishRelease(const std::string& peer, const std::string& nonce, bool requeued);
  // Gives back what an abandoned register step claimed: the id (unless the step was refused it;
  // without a reply it is released all the same, since the step may have run), and `frames`, the
  // queue it handed over and the frames held meanwhile, in order.
  void ReturnAbandonedClaim(const std::string& peer, bool refused, std::vector<Held> frames);
  // The connection of a local peer, whether its claim is settled or on its way to Redis (as
  // while this pod claims its peers again): where what concerns that peer as a sender goes.
  // nullptr if the peer is not on this pod, or its claim lost its connection.
  PeerConnection* LocalSender(std::string_view peer) const;
  // Hands a frame that came through Redis to a local connection.
  void Deliver(PeerConnection* connection, std::string_view frame, const FrameOrigin& origin);
  void Deliver(PeerConnection* connection, const Held& held);
  // Tells the sender of each of `frames` (once each) that they did not reach `peer`.
  void TellHeld(std::string_view peer, const std::vector<Held>& frames, Undeliverable reason);
  // `unsent` as frames held for a peer (those that are never queued left out).
  std::vector<Held> ToHeld(std::vector<UnsentFrame> unsent) const;

  // Routes a frame of one of this pod's senders: to a local peer, to a registration under way,
  // into an open detour, or to another pod.
  void RouteOwn(std::string_view from, std::string_view to, std::string_view frame,
                std::string_view ref, bool queue_if_absent);
  // Sends a frame of this pod's sender to the pod the cache names, else through the route step.
  void RouteRemote(std::string_view from, std::string_view to, std::string_view frame,
                   std::string_view ref, bool queue_if_absent);
  // One PUBLISH to the pod `owner` names; its reply is handled by OnPublishReply.
  void PublishTo(OwnerCache::Entry& owner, std::string_view from, std::string_view to,
                 std::string_view frame, std::string_view ref, bool queue_if_absent);
  // `sent`: the link took the command (so a missing reply leaves it unknown whether Redis ran it).
  void OnPublishReply(uint64_t sequence, redisReply* reply, bool sent = true);
  // Sends a frame to the pod that holds `target`, else queues it in Redis (unless
  // `queue_if_absent` is false: then it is dropped).
  void RouteThroughRedis(std::string_view sender_pod, std::string_view sender,
                         std::string_view target, std::string_view frame, std::string_view ref,
                         bool queue_if_absent = true);
  // Learns that `pod` holds `peer`, unless that could reorder frames (see OwnerCache::Learn).
  void LearnOwner(std::string_view peer, std::string_view pod);

  // Detours (detour_table.h): opens one for `target`, forgetting its cache entry; with a
  // non-empty `fence_pod`, also waits for that pod to answer a fence.
  void OpenDetour(std::string_view target, std::string_view fence_pod);
  void SendFence(std::string_view target, std::string_view pod);
  // Routes again the frames of every detour that is over.
  void FinishDetours();

  void OnPodMessage(std::string_view bytes);
  void OnDeliverMessage(const PodMessage& message);
  // Hands a frame for a peer this pod does not hold back to the sender's pod.
  void Bounce(const PodMessage& message);
  // Hands a frame back to its sender's pod; `sequence` > 0: the number of a frame that came
  // numbered, and gets no receipt (Bounce).
  void BounceHeld(std::string_view target, const Held& held, uint64_t sequence = 0);
  // Tells `pod` that everything it sent here for `target` before its fence has been handled.
  void AnswerFence(std::string_view target, std::string_view pod);
  void Track(std::string_view sender_pod, std::string_view sender, std::string_view target,
             Clock::time_point check_at);
  void CheckExpiry(ExpiryTracker::Pair pair);
  void ExchangeReceipts(Clock::time_point now);
  // Asks the receiving pods of those streams how far they handled them (delivery_receipts.h).
  void SendAsks(std::vector<UnconfirmedFrames::Ask> asks);
  // Another pod asks how far this pod handled its stream: answers on its channel of the bucket.
  void AnswerAsk(const PodMessage& ask);
  // Publishes what was meant for other pods while the link was not up (unsent_).
  void SendUnsent();
  // Tells the senders of frames no receipt covers that they may be lost.
  void TellUnconfirmed(std::vector<UnconfirmedFrames::Frame> frames);
  void TellOverheard(std::string_view message);
  // True when a frame of `bucket` that wants a receipt must be dropped: read after a stall.
  bool InBacklogAfterStall(int bucket);
  // This pod's event loop did not run for `stalled`: reads its backlog before it gives up on any
  // frame, and drops the frames in it if the stall was long enough.
  void OnStalled(Clock::duration stalled);
  void TellSender(std::string_view sender_pod, std::string_view sender, std::string_view target,
                  Undeliverable reason, std::string_view ref);

  // The channels this pod listens on, and its liveness keys: one per bucket.
  std::vector<std::string> OwnChannels() const;
  std::vector<std::string> OwnLivenessKeys() const;
  void Log(bool warning, std::string_view message, std::string_view detail) const;

  Options options_;
  KeyLayout layout_;
  RedisLink link_;
  bool closing_ = false;

  PeerTable peers_;
  OwnerCache owners_;
  RedisSwarmDirectory swarms_;  // after link_ and layout_, which it uses
  DetourTable detours_;
  std::deque<Publish> publishes_;  // PUBLISHes awaiting their reply, in the order sent
  uint64_t publish_sequence_ = 0;  // numbers the PUBLISHes of frames
  uint64_t publish_replied_ = 0;   // it and every one before it are answered
  // "<sender pod> <target>" -> since when: frames from that pod for that target are handed back
  // until its fence arrives, even if the target registers here meanwhile.
  std::unordered_map<std::string, Clock::time_point> bouncing_;
  std::unordered_map<std::string, Releasing> releasing_;    // peers released, marker not yet back
  std::unordered_map<std::string, int> lookups_in_flight_;  // target -> route steps on their way
  // Targets a route step queued frames of this pod's senders for, until one finds them
  // registered (or the queue is found drained or expired): their pod is not learned meanwhile.
  std::unordered_set<std::string> queued_for_;
  uint64_t release_count_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Registering>> registering_;
  std::unordered_set<std::string> left_while_down_;  // peers that left while Redis was away
  std::unordered_set<std::string> unclaimed_;        // local peers Redis refused to register
  // Peers whose last register step got no reply -> its nonce (see SendRegister).
  std::unordered_map<std::string, std::string> handover_lost_;
  uint64_t register_count_ = 0;
  // Tells this process's register steps from those of a predecessor under the same pod id.
  const std::string instance_ = std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                               std::chrono::microseconds(1));
  ExpiryTracker expiry_;
  QueueBudget budget_{options_.queue_budget, options_.expire};  // what this pod's senders queued
  UnconfirmedFrames unconfirmed_;  // published to other pods, no receipt yet
  ReceiptsOwed receipts_owed_;     // to the pods whose frames this pod handled
  // Messages for other pods made while the link was not up, sent once it is: "A<pod> <bucket>"
  // -> (channel, answer) for asks read (AnswerAsk), "E<pod> <sender> <target>" -> (channel,
  // notice) for senders on other pods to tell (TellSender). At most kUnsentKept.
  std::unordered_map<std::string, std::pair<std::string, std::string>> unsent_;
  static constexpr size_t kUnsentKept = 100'000;
  Clock::time_point receipts_sent_at_{};
  // After a stall: the marker whose return ends the backlog, the buckets where it has not yet,
  // and whether the frames read there meanwhile are dropped (InBacklogAfterStall).
  std::string backlog_nonce_;
  std::vector<bool> catching_up_ = std::vector<bool>(KeyLayout::kBuckets, false);
  int catching_up_count_ = 0;
  bool dropping_backlog_ = false;
  uint64_t backlog_count_ = 0;
  RoutingStats stats_;
};

}  // namespace switchboard::routing
