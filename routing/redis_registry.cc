#include "routing/redis_registry.h"

#include <algorithm>
#include <array>
#include <utility>

#include "routing/redis_scripts.h"
#include "routing/script_runner.h"

namespace switchboard::routing {

namespace {

enum Script { kRoute, kRegister, kUnregister, kRelease, kRequeue, kExpire, kReap, kScriptCount };

constexpr std::array<const std::string_view*, kScriptCount> kScripts = {
    &scripts::kRoute,   &scripts::kRegister, &scripts::kUnregister, &scripts::kRelease,
    &scripts::kRequeue, &scripts::kExpire,   &scripts::kReap};

// How long a release marker waits in Redis for the frames that reached the releasing pod after
// the release: they are put in front of the queue only within it, and their senders are told
// otherwise.
constexpr std::chrono::milliseconds kReleaseMarkerTtl(10000);

// How often a pod sends the receipts it owes (delivery_receipts.h).
constexpr std::chrono::milliseconds kReceiptPeriod(250);

// How long a pod remembers the last number of a stream that sent nothing more: far longer than a
// connection given up on can still deliver late (delivery_receipts.h).
constexpr std::chrono::minutes kForgetStreamsAfter(10);

// How long "<pod> <target>" stays in the bouncing set without the fence that clears it (the
// sender's pod died).
constexpr std::chrono::seconds kBouncingTtl(30);

std::string_view ReplyText(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

bool IsError(const redisReply* reply) {
  return reply == nullptr || reply->type == REDIS_REPLY_ERROR;
}

// Tokens are kept in Redis as a hash, so that reading Redis does not reveal them. Computed in
// Lua would need the token on the wire anyway; here it is hashed before it leaves the pod.
std::string TokenHash(std::string_view token) {
  if (token.empty()) return {};
  // FNV-1a is not a cryptographic hash; what matters is that equal tokens give equal hashes
  // and that Redis does not hold the secret itself. A 64-bit digest twice, seeded differently,
  // keeps accidental collisions out of reach.
  auto fnv = [&](uint64_t seed) {
    uint64_t hash = seed;
    for (unsigned char c : token) hash = (hash ^ c) * 0x100000001b3ULL;
    return hash;
  };
  char text[33];
  snprintf(text, sizeof(text), "%016llx%016llx",
           static_cast<unsigned long long>(fnv(0xcbf29ce484222325ULL)),
           static_cast<unsigned long long>(fnv(0x84222325cbf29ce4ULL)));
  return text;
}

}  // namespace

// A frame that arrived for a peer whose registration is still on its way to Redis: it is
// delivered after the queue Redis hands back, so that order holds.
struct RedisRegistry::Held {
  std::string sender_pod;
  std::string sender;
  std::string frame;
  bool queue_if_absent = true;  // if it must be routed again and the peer is gone: queue it?
};

// A connection waiting for an abandoned claim to give the id back (see WaitForAbandonedClaim).
struct RedisRegistry::Successor {
  PeerConnection* connection;
  std::string token;
  RegisterCallback done;
};

struct RedisRegistry::Registering {
  PeerConnection* connection;  // nullptr once abandoned: the connection left before the reply
  std::string token;
  RegisterCallback done;
  std::vector<Held> held;
  std::optional<Successor> successor;  // only on an abandoned claim
  // Frames that reached this pod after it released the peer and before the peer came back here:
  // older than anything in the peer's queue, so delivered first.
  std::vector<Held> before_queue;
};

// A peer this pod released, until its release marker comes back: what arrived for it meanwhile.
struct RedisRegistry::Releasing {
  std::string nonce;
  bool requeueing = false;          // the marker came back; the requeue step is on its way
  std::vector<Held> frames;         // came before the marker
  std::vector<Held> after;          // came while the requeue step ran
  std::vector<std::string> fences;  // pods whose fence came meanwhile, answered at the end
};

// A PUBLISH of a frame to the pod the owner cache named, until Redis answers how many pods got it.
struct RedisRegistry::Publish {
  uint64_t sequence;
  std::string message;  // the pod message: what to route again if nobody got it
  std::string ref;
  std::string pod;               // where it went
  int bucket = 0;                // the target's
  uint64_t stream_sequence = 0;  // its number in the receipt stream to that pod and bucket
  bool replied = false;
};

namespace {

// Replaces every `from` in `text` with `to`.
std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Each pod loads its own copy of the scripts, marked with its id, so it has SHAs of its own:
// after a SCRIPT FLUSH another pod reloading its copy cannot make this pod's EVALSHAs succeed
// while earlier ones of this pod still wait to be retried (script_runner.h). On a cluster the
// pod channels are sharded: the scripts publish with SPUBLISH and count with SHARDNUMSUB.
std::vector<std::string> ScriptsOfPod(const std::string& pod_id, bool cluster) {
  std::vector<std::string> texts;
  for (const std::string_view* script : kScripts) {
    std::string text = "-- loaded by pod " + pod_id + "\n" + std::string(*script);
    if (cluster) {
      text = ReplaceAll(ReplaceAll(std::move(text), "'PUBLISH'", "'SPUBLISH'"), "'NUMSUB'",
                        "'SHARDNUMSUB'");
    }
    texts.push_back(std::move(text));
  }
  return texts;
}

}  // namespace

RedisRegistry::RedisRegistry(uv_loop_t* loop, Options options)
    : options_(std::move(options)),
      layout_(options_.prefix),
      link_(loop,
            {.address = options_.address,
             .cluster = options_.cluster,
             .channels = OwnChannels(),
             .liveness_keys = OwnLivenessKeys(),
             .heartbeat = options_.heartbeat,
             .alive_ttl = options_.alive_ttl,
             .scripts = ScriptsOfPod(options_.pod_id, options_.cluster)},
            {.up = [this](bool restarted) { OnUp(restarted); },
             .message = [this](std::string_view message) { OnPodMessage(message); },
             .alive = [this](bool lapsed) { OnAlive(lapsed); },
             .heartbeat = [this] { OnHeartbeat(); },
             .stalled = [this](Clock::duration stalled) { OnStalled(stalled); },
             .log = options_.log}),
      owners_(options_.owner_cache_size) {}

RedisRegistry::~RedisRegistry() { Close(); }

std::vector<std::string> RedisRegistry::OwnChannels() const {
  std::vector<std::string> channels;
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    channels.push_back(layout_.Channel(bucket, options_.pod_id));
  }
  return channels;
}

std::vector<std::string> RedisRegistry::OwnLivenessKeys() const {
  std::vector<std::string> keys;
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    keys.push_back(layout_.Alive(bucket, options_.pod_id));
  }
  return keys;
}

void RedisRegistry::Log(bool warning, std::string_view message, std::string_view detail) const {
  if (options_.log) options_.log(warning, message, detail);
}

// ---------------------------------------------------------------------------------------------
// The link to Redis (redis_link.h) and what this pod does when it comes and goes.

void RedisRegistry::Start() { link_.Start(); }

void RedisRegistry::OnUp(bool restarted) {
  // New subscriptions: there is no backlog to drop. (What reached the old ones and was not
  // handled shows as a skip in the receipts.)
  catching_up_.assign(KeyLayout::kBuckets, false);
  catching_up_count_ = 0;
  std::unordered_set<std::string> left = std::move(left_while_down_);
  left_while_down_.clear();
  for (const std::string& peer : left) {
    if (peers_.Find(peer) == nullptr) SendUnregister(peer);
  }
  if (restarted) ForgetQueuesLostWithRedis();
  ResumeReleases();
  // Redis may have restarted empty, or reaped this pod while it was away: claim every local
  // peer again.
  ReclaimAll();
}

// Redis restarted, so the frames queued in it are gone: every sender with frames waiting there
// is told now, once per target, instead of its expiry check finding no trace and taking that as
// delivered.
void RedisRegistry::ForgetQueuesLostWithRedis() {
  Log(true, "redis restarted; telling the senders of the frames queued in it",
      std::to_string(expiry_.size()) + " (sender, target) pairs");
  for (const ExpiryTracker::Pair& pair : expiry_.TakeAll()) {
    TellSender(pair.sender_pod, pair.sender, pair.target, Undeliverable::kPeerUnavailable, {});
  }
}

void RedisRegistry::ReclaimAll() {
  std::vector<std::string> local;
  peers_.ForEach([&](std::string_view peer, const PeerTable::Entry&) { local.emplace_back(peer); });
  unclaimed_.clear();
  for (const std::string& peer : local) Reclaim(peer);
}

// Claims a local peer again, as a registration does: frames for it (from its channel or from
// local senders) are held until the queue the register step hands back has been delivered. A
// peer someone else took meanwhile is closed as id-taken.
void RedisRegistry::Reclaim(const std::string& peer) {
  const PeerTable::Entry* entry = peers_.Find(peer);
  if (entry == nullptr || registering_.contains(peer)) return;
  PeerConnection* connection = entry->connection;
  const std::string token = entry->token;
  peers_.EraseIfHeldBy(peer, connection);
  auto done = [connection](RegisterResult result) {
    if (result == RegisterResult::kIdTaken) connection->Evict(Eviction::kIdTaken);
  };
  SendRegister(peer, token, connection, done, RegisterResult::kRegistered, {}, {});
}

// Redis took this pod's liveness key. If it may have lapsed before, the other pods may have
// reaped this pod's peers: claim them all again. Otherwise claim those Redis refused earlier.
void RedisRegistry::OnAlive(bool lapsed) {
  if (lapsed) {
    Log(true, "this pod's liveness key lapsed; claiming its peers again",
        std::to_string(peers_.size()) + " peers");
    ReclaimAll();
    return;
  }
  std::unordered_set<std::string> unclaimed = std::move(unclaimed_);
  unclaimed_.clear();
  for (const std::string& peer : unclaimed) Reclaim(peer);
}

// Each heartbeat: reap the peers of pods that are gone, in every bucket.
void RedisRegistry::OnHeartbeat() {
  auto on_reply = [this](redisReply* reply) {
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) {
      Log(true, "removed the peers of dead pods", std::to_string(reply->integer));
    }
  };
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    link_.RunScript(kReap, {layout_.Pods(bucket), layout_.Peers(bucket), layout_.Tokens(bucket)},
                    {layout_.BucketPrefix(bucket), options_.pod_id}, on_reply);
  }
}

// ---------------------------------------------------------------------------------------------
// Peers.

void RedisRegistry::Register(std::string_view peer_view, std::string_view token,
                             PeerConnection* connection, RegisterCallback done) {
  const std::string peer(peer_view);
  RegisterResult local_result = RegisterResult::kRegistered;
  if (const PeerTable::Entry* holder = peers_.Find(peer)) {
    if (!TokenAllowsTakeover(holder->token, token)) {
      done(RegisterResult::kIdTaken);
      return;
    }
    holder->connection->Evict(Eviction::kReplaced);
    peers_.EraseIfHeldBy(peer, holder->connection);
    local_result = RegisterResult::kTookOver;
  }
  if (auto it = registering_.find(peer); it != registering_.end()) {
    Registering& claim = *it->second;
    if (claim.successor ||
        (claim.connection == nullptr && !TokenAllowsTakeover(claim.token, token))) {
      WaitForAbandonedClaim(claim, token, connection, std::move(done));
      return;
    }
    if (!TokenAllowsTakeover(claim.token, token)) {
      done(RegisterResult::kIdTaken);
      return;
    }
    // The earlier claim is still on its way: it completes for the newcomer instead.
    if (it->second->connection != nullptr) it->second->connection->Evict(Eviction::kReplaced);
    it->second->connection = connection;
    it->second->done = std::move(done);
    return;
  }
  // Frames this pod's senders published to the peer's last pod may still be on their way there:
  // newer ones wait until that pod has handed back what it does not deliver.
  if (OwnerCache::Entry* stale = owners_.Find(peer)) OpenDetour(peer, std::string(stale->pod));
  // Frames that came for the peer since this pod released it: those not yet requeued are older
  // than its queue; those that came while the requeue step ran are newer (the requeue step runs
  // before this register step).
  std::vector<Held> before_queue;
  std::vector<Held> after_queue;
  if (auto released = releasing_.find(peer); released != releasing_.end()) {
    if (!released->second.requeueing) before_queue = std::move(released->second.frames);
    after_queue = std::move(released->second.after);
    for (const std::string& pod : released->second.fences) AnswerFence(peer, pod);
    releasing_.erase(released);
  }
  if (!link_.up()) {
    // Local peers keep working without Redis; OnUp() claims the id when Redis is back.
    peers_.Set(peer, connection, token);
    done(local_result);
    const PeerTable::Entry* entry = peers_.Find(peer);
    if (entry == nullptr || entry->connection != connection) return;  // closed in done
    for (std::vector<Held>* frames : {&before_queue, &after_queue}) {
      for (Held& held : *frames) Deliver(connection, held.frame);
    }
    return;
  }
  SendRegister(peer, token, connection, std::move(done), local_result, std::move(before_queue),
               std::move(after_queue));
}

void RedisRegistry::SendRegister(const std::string& peer, std::string_view token,
                                 PeerConnection* connection, RegisterCallback done,
                                 RegisterResult local_result, std::vector<Held> before_queue,
                                 std::vector<Held> held) {
  registering_[peer] = std::make_unique<Registering>(
      Registering{connection, std::string(token), std::move(done), std::move(held), std::nullopt,
                  std::move(before_queue)});
  const int bucket = KeyLayout::BucketOf(peer);
  link_.RunScript(
      kRegister,
      {layout_.Peers(bucket), layout_.Tokens(bucket), layout_.Queue(peer),
       layout_.PodPeers(bucket, options_.pod_id), layout_.Released(peer), layout_.Pods(bucket)},
      {layout_.BucketPrefix(bucket), peer, options_.pod_id, TokenHash(token)},
      [this, peer, local_result](redisReply* reply) {
        OnRegisterReply(peer, local_result, reply);
      });
}

void RedisRegistry::OnRegisterReply(const std::string& peer, RegisterResult local_result,
                                    redisReply* reply) {
  auto it = registering_.find(peer);
  if (it == registering_.end()) return;  // unregistered meanwhile; Unregister cleaned up
  std::unique_ptr<Registering> claim = std::move(it->second);
  registering_.erase(it);

  const bool answered = !IsError(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0;
  if (claim->connection == nullptr) {
    ReturnAbandonedClaim(peer, *claim, answered ? reply : nullptr);
    // Sent after the steps that gave the id and the frames back, so it claims the id with its
    // own token and takes those frames, in order.
    if (claim->successor) {
      Successor next = std::move(*claim->successor);
      Register(peer, next.token, next.connection, std::move(next.done));
    }
    return;
  }
  if (answered && ReplyText(reply->element[0]) == "TAKEN") {
    claim->done(RegisterResult::kIdTaken);
    for (std::vector<Held>* frames : {&claim->before_queue, &claim->held}) {
      for (Held& held : *frames) {
        RouteThroughRedis(held.sender_pod, held.sender, peer, held.frame, {}, held.queue_if_absent);
      }
    }
    return;
  }
  // Without an answer (Redis went away) the peer is served locally; OnUp() claims it again. An
  // error answer (Redis refused the write: full, read-only...) is no claim either: the next
  // heartbeat that Redis accepts claims it again.
  peers_.Set(peer, claim->connection, claim->token);
  if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) unclaimed_.insert(peer);
  const bool took_over = answered && ReplyText(reply->element[0]) == "TOOK";
  claim->done(took_over ? RegisterResult::kTookOver : local_result);
  const PeerTable::Entry* entry = peers_.Find(peer);
  if (entry == nullptr || entry->connection != claim->connection) return;  // closed in done
  for (Held& held : claim->before_queue) Deliver(claim->connection, held.frame);
  if (answered) DeliverQueued(claim->connection, reply);
  for (Held& held : claim->held) Deliver(claim->connection, held.frame);
}

void RedisRegistry::Unregister(std::string_view peer_view, PeerConnection* connection) {
  const std::string peer(peer_view);
  if (auto it = registering_.find(peer); it != registering_.end()) {
    std::optional<Successor>& successor = it->second->successor;
    if (successor && successor->connection == connection) {
      successor.reset();  // the abandoned claim then only gives the id back
      return;
    }
    if (it->second->connection != connection) return;
    // The register step will still claim the id and hand back its queue: keep the claim, without
    // its connection, until the reply says what to give back (ReturnAbandonedClaim).
    it->second->connection = nullptr;
    it->second->done = nullptr;
    return;
  }
  if (peers_.EraseIfHeldBy(peer, connection)) SendRelease(peer);
}

// The connection that held `claim` left, and its token no longer protects the id: the id is
// free for anyone once the claim has given it back. Registering the newcomer at once would be
// refused (the claim still holds the id, with the old token) or would inherit the old token; so
// it waits, and registers once the claim's reply has come back. Among newcomers, the usual rule:
// the same token takes the place over, another is refused.
void RedisRegistry::WaitForAbandonedClaim(Registering& claim, std::string_view token,
                                          PeerConnection* connection, RegisterCallback done) {
  if (claim.successor) {
    if (!TokenAllowsTakeover(claim.successor->token, token)) {
      done(RegisterResult::kIdTaken);
      return;
    }
    claim.successor->connection->Evict(Eviction::kReplaced);
  }
  claim.successor = Successor{connection, std::string(token), std::move(done)};
}

void RedisRegistry::ReturnAbandonedClaim(const std::string& peer, Registering& claim,
                                         const redisReply* reply) {
  const bool refused = reply != nullptr && ReplyText(reply->element[0]) == "TAKEN";
  // Without a reply the step may still have claimed the id: Redis can run it and the link break
  // before the reply is read. Releasing an id this pod does not hold changes nothing (the step
  // checks the owner), and with the link down SendUnregister leaves it to OnUp().
  if (!refused) SendUnregister(peer);
  // What the peer would have received goes back through Redis, in order, after the unregister
  // step: it queues for the peer's next connection, wherever that will be.
  if (reply != nullptr && !refused) {
    for (size_t i = 1; i < reply->elements; ++i) {
      if (auto queued = DecodeQueuedEntry(ReplyText(reply->element[i]))) {
        RouteThroughRedis(queued->sender_pod, queued->sender, peer, queued->frame, {});
      }
    }
  }
  for (std::vector<Held>* frames : {&claim.before_queue, &claim.held}) {
    for (Held& frame : *frames) {
      RouteThroughRedis(frame.sender_pod, frame.sender, peer, frame.frame, {},
                        frame.queue_if_absent);
    }
  }
}

void RedisRegistry::SendUnregister(const std::string& peer) {
  if (!link_.up()) {
    // Redis may still hold the id for this pod (the link broke, Redis did not restart): OnUp()
    // releases it, or the peer could not reconnect on another pod.
    left_while_down_.insert(peer);
    return;
  }
  const int bucket = KeyLayout::BucketOf(peer);
  link_.RunScript(
      kUnregister,
      {layout_.Peers(bucket), layout_.Tokens(bucket), layout_.PodPeers(bucket, options_.pod_id)},
      {peer, options_.pod_id}, nullptr);
}

void RedisRegistry::SendRelease(const std::string& peer) {
  if (!link_.up()) {
    SendUnregister(peer);  // remembered for OnUp()
    return;
  }
  releasing_[peer] = Releasing{};
  StartRelease(peer);
}

void RedisRegistry::StartRelease(const std::string& peer) {
  Releasing& releasing = releasing_[peer];
  releasing.nonce = options_.pod_id + "-" + std::to_string(++release_count_);
  const int bucket = KeyLayout::BucketOf(peer);
  link_.RunScript(
      kRelease,
      {layout_.Peers(bucket), layout_.Tokens(bucket), layout_.PodPeers(bucket, options_.pod_id),
       layout_.Released(peer)},
      {layout_.BucketPrefix(bucket), peer, options_.pod_id, releasing.nonce,
       std::to_string(kReleaseMarkerTtl.count())},
      [this, peer, nonce = releasing.nonce](redisReply* reply) {
        // Released: OnReleased() takes it from here. No answer: OnUp() starts again.
        if (reply == nullptr || (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)) {
          return;
        }
        // Not held here after all (reaped, or taken over): no marker comes.
        FinishRelease(peer, nonce, /*requeued=*/false);
      });
}

// Every frame published to this pod before the release step ran has arrived: those that came
// for the peer since go in front of its queue, unless someone claimed it meanwhile (then newer
// frames may have reached it already, and they go back to their senders' pods instead).
void RedisRegistry::OnReleased(std::string_view peer, std::string_view nonce) {
  auto it = releasing_.find(std::string(peer));
  if (it == releasing_.end() || it->second.nonce != nonce || it->second.requeueing) return;
  it->second.requeueing = true;
  SendRequeue(it->first);
}

void RedisRegistry::SendRequeue(const std::string& peer) {
  Releasing& releasing = releasing_[peer];
  std::erase_if(releasing.frames, [](const Held& held) { return !held.queue_if_absent; });
  if (releasing.frames.empty()) {
    FinishRelease(peer, releasing.nonce, /*requeued=*/true);
    return;
  }
  const std::string expire_ms = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.expire).count());
  std::vector<std::string> entries;
  entries.reserve(releasing.frames.size());
  for (const Held& held : releasing.frames) {
    entries.push_back(held.sender_pod + " " + held.sender + " " + held.frame);
  }
  std::vector<std::string_view> args = {releasing.nonce, expire_ms};
  args.insert(args.end(), entries.begin(), entries.end());
  link_.RunScript(kRequeue, {layout_.Queue(peer), layout_.Released(peer)}, args,
                  [this, peer, nonce = releasing.nonce](redisReply* reply) {
                    if (reply == nullptr) return;  // OnUp() sends it again
                    FinishRelease(peer, nonce, !IsError(reply) && ReplyText(reply) == "Q");
                  });
}

// After the link came back: a release whose marker may have been lost with the subscription is
// run again (a fresh nonce; if Redis no longer names this pod, its frames go back to their
// senders' pods), and a requeue that got no answer is sent again (after a restart its nonce is
// gone, so the frames go back too).
void RedisRegistry::ResumeReleases() {
  std::vector<std::pair<std::string, bool>> releases;
  for (const auto& [peer, releasing] : releasing_)
    releases.emplace_back(peer, releasing.requeueing);
  for (const auto& [peer, requeueing] : releases) {
    if (requeueing) {
      SendRequeue(peer);
    } else {
      StartRelease(peer);
    }
  }
}

// Ends a release: the frames held for the peer were put in front of its queue (`requeued`), or
// go back to their senders' pods, which route them again in order; so do the frames that came
// while the requeue step ran. Fences that came meanwhile are answered after them.
void RedisRegistry::FinishRelease(const std::string& peer, const std::string& nonce,
                                  bool requeued) {
  auto it = releasing_.find(peer);
  if (it == releasing_.end() || it->second.nonce != nonce) return;
  Releasing releasing = std::move(it->second);
  releasing_.erase(it);
  if (requeued) {
    stats_.queued += releasing.frames.size();
    for (const Held& held : releasing.frames) {
      Track(held.sender_pod, held.sender, peer, Clock::now() + options_.expire);
    }
  } else {
    for (const Held& held : releasing.frames) BounceHeld(peer, held);
  }
  for (const Held& held : releasing.after) BounceHeld(peer, held);
  for (const std::string& pod : releasing.fences) AnswerFence(peer, pod);
}

void RedisRegistry::DeliverQueued(PeerConnection* connection, const redisReply* reply) {
  for (size_t i = 1; i < reply->elements; ++i) {
    if (auto queued = DecodeQueuedEntry(ReplyText(reply->element[i]))) {
      Deliver(connection, queued->frame);
      ++stats_.relayed_local;
    }
  }
}

void RedisRegistry::Deliver(PeerConnection* connection, std::string_view frame) {
  protocol::Frame copy(frame.size());
  copy.Append(frame);
  connection->Deliver(RoutedFrame{std::move(copy), Clock::now()});
}

// ---------------------------------------------------------------------------------------------
// Frames.

void RedisRegistry::Route(std::string_view from, std::string_view to, RoutedFrame frame,
                          std::string_view ref) {
  if (detours_.empty()) {
    if (const PeerTable::Entry* target = peers_.Find(to)) {
      target->connection->Deliver(std::move(frame));
      ++stats_.relayed_local;
      return;
    }
  }
  RouteOwn(from, to, frame.frame.body(), ref, frame.queue_if_absent);
}

void RedisRegistry::RouteOwn(std::string_view from, std::string_view to, std::string_view frame,
                             std::string_view ref, bool queue_if_absent) {
  if (!detours_.empty() && detours_.IsOpen(to)) {
    detours_.Hold(
        to, HeldFrame{std::string(from), std::string(frame), std::string(ref), queue_if_absent});
    return;
  }
  if (const PeerTable::Entry* target = peers_.Find(to)) {
    Deliver(target->connection, frame);
    ++stats_.relayed_local;
    return;
  }
  if (auto it = registering_.find(std::string(to)); it != registering_.end()) {
    it->second->held.push_back(
        Held{options_.pod_id, std::string(from), std::string(frame), queue_if_absent});
    ++stats_.relayed_local;
    return;
  }
  RouteRemote(from, to, frame, ref, queue_if_absent);
}

void RedisRegistry::RouteRemote(std::string_view from, std::string_view to, std::string_view frame,
                                std::string_view ref, bool queue_if_absent) {
  if (!link_.up()) {
    TellSender(options_.pod_id, from, to, Undeliverable::kUnavailable, ref);
    return;
  }
  if (OwnerCache::Entry* owner = owners_.Find(to)) {
    PublishTo(*owner, from, to, frame, ref, queue_if_absent);
    return;
  }
  RouteThroughRedis(options_.pod_id, from, to, frame, ref, queue_if_absent);
}

void RedisRegistry::PublishTo(OwnerCache::Entry& owner, std::string_view from, std::string_view to,
                              std::string_view frame, std::string_view ref, bool queue_if_absent) {
  // The message lives in publishes_ until its reply: the command is formatted from it, and if
  // nobody got it, it is routed again from there. A deque never moves its elements.
  const int bucket = KeyLayout::BucketOf(to);
  const uint64_t stream_sequence = unconfirmed_.NextSequence(owner.pod, bucket);
  publishes_.push_back(
      Publish{++publish_sequence_,
              EncodeDeliver(to, options_.pod_id, from, frame, queue_if_absent, stream_sequence),
              std::string(ref), owner.pod, bucket, stream_sequence});
  owner.last_publish = publish_sequence_;
  const std::string channel = layout_.Channel(bucket, owner.pod);
  const uint64_t sequence = publish_sequence_;
  if (!link_.Command({link_.publish_verb(), channel, publishes_.back().message},
                     [this, sequence](redisReply* reply) { OnPublishReply(sequence, reply); })) {
    OnPublishReply(sequence, nullptr);
  }
}

void RedisRegistry::OnPublishReply(uint64_t sequence, redisReply* reply) {
  // One Redis answers in the order the commands were sent, but the masters of a cluster each in
  // their own: publish_replied_ counts only those with every earlier one answered too.
  Publish& entry = publishes_[sequence - publishes_.front().sequence];
  Publish publish = std::move(entry);
  entry.replied = true;
  while (!publishes_.empty() && publishes_.front().replied) publishes_.pop_front();
  publish_replied_ = publishes_.empty() ? publish_sequence_ : publishes_.front().sequence - 1;
  if (closing_) return;
  const bool answered = reply != nullptr && reply->type == REDIS_REPLY_INTEGER;
  if (answered && reply->integer > 0) {  // the common case: it waits for the pod's receipt
    ++stats_.relayed_remote;
    if (!detours_.empty()) TellOverheard(publish.message);
    std::optional<UnconfirmedFrames::Frame> lost =
        unconfirmed_.Published(publish.pod, publish.bucket, publish.stream_sequence,
                               {std::move(publish.message), std::move(publish.ref)}, Clock::now());
    if (lost) TellUnconfirmed({std::move(*lost)});
    if (!detours_.empty()) FinishDetours();
    return;
  }
  const std::optional<PodMessage> message = DecodePodMessage(publish.message);
  if (!answered) {
    TellSender(options_.pod_id, message->sender, message->target, Undeliverable::kUnavailable,
               publish.ref);
  } else {
    // Nobody listens on that pod's channel: it is dead. The route step will reap its entry and
    // queue the frame, in order with the frames sent after it.
    OpenDetour(message->target, {});
    detours_.AddUnheard(message->target,
                        HeldFrame{std::string(message->sender), std::string(message->frame),
                                  std::move(publish.ref), message->queue_if_absent});
  }
  if (!detours_.empty()) FinishDetours();
}

// A publish of `message` reached a subscriber after earlier ones to the same pod reached none:
// that pod subscribed again between them. Routing the earlier frames again would deliver them
// after this one, so their senders are told instead.
void RedisRegistry::TellOverheard(std::string_view message) {
  const std::optional<PodMessage> decoded = DecodePodMessage(message);
  for (HeldFrame& frame : detours_.TakeUnheard(decoded->target)) {
    TellSender(options_.pod_id, frame.sender, decoded->target, Undeliverable::kUnavailable,
               frame.ref);
  }
}

// A direct PUBLISH must not overtake anything sent to the peer earlier. Frames held in a detour
// go out only when it ends, so learning during one is safe. But a lookup still on its way could
// be sent again after the PUBLISH (NOSCRIPT, see SendScriptCall): while lookups for the peer are
// on their way, newer frames wait in a detour until the last one is answered.
void RedisRegistry::LearnOwner(std::string_view peer, std::string_view pod) {
  if (pod == options_.pod_id || peers_.Find(peer) != nullptr) return;
  const std::string key(peer);
  if (registering_.contains(key) || owners_.Find(peer) != nullptr) return;
  if (lookups_in_flight_.contains(key)) {
    detours_.Open(peer, 0, Clock::now() + 2 * options_.alive_ttl);
    detours_.AwaitLookups(peer);
  }
  owners_.Learn(peer, pod);
}

// ---------------------------------------------------------------------------------------------
// Detours.

void RedisRegistry::OpenDetour(std::string_view target, std::string_view fence_pod) {
  const OwnerCache::Entry stale = owners_.Forget(target);
  detours_.Open(target, stale.last_publish, Clock::now() + 2 * options_.alive_ttl);
  if (!fence_pod.empty() && detours_.AwaitFence(target, fence_pod)) SendFence(target, fence_pod);
}

void RedisRegistry::SendFence(std::string_view target_view, std::string_view pod_view) {
  std::string target(target_view);
  std::string pod(pod_view);
  auto answered = [this, target, pod](redisReply* reply) {
    // Nobody got the fence (that pod is gone, or so is the link): nothing more comes from it.
    const bool delivered =
        reply != nullptr && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    if (delivered || closing_) return;
    detours_.FenceAnswered(target, pod);
    FinishDetours();
  };
  if (!link_.Command({link_.publish_verb(), layout_.ChannelFor(target, pod),
                      EncodeFence(target, options_.pod_id)},
                     answered)) {
    answered(nullptr);
  }
}

void RedisRegistry::FinishDetours() {
  size_t expired = 0;
  std::vector<DetourTable::Ready> ready =
      detours_.TakeReady(publish_replied_, Clock::now(), &expired);
  if (expired > 0) {
    Log(true, "a pod did not answer a fence in time; routing the frames held for it again",
        std::to_string(expired));
  }
  for (DetourTable::Ready& detour : ready) {
    const std::string& target = detour.target;
    for (size_t i = 0; i < detour.frames.size(); ++i) {
      HeldFrame& held = detour.frames[i];
      RouteOwn(held.sender, target, held.frame, held.ref, held.queue_if_absent);
      // That frame went out as a lookup, whose answer will say where the target is: the rest
      // wait for it, and then cost one PUBLISH each instead of a lookup each.
      const bool more = i + 1 < detour.frames.size();
      if (more && lookups_in_flight_.contains(target) && !detours_.IsOpen(target)) {
        detours_.Open(target, 0, Clock::now() + 2 * options_.alive_ttl);
        detours_.AwaitLookups(target);
        for (size_t rest = i + 1; rest < detour.frames.size(); ++rest) {
          detours_.Hold(target, std::move(detour.frames[rest]));
        }
        break;
      }
    }
  }
}

// Reads every bucket's entries; the list is complete only if every bucket answered.
void RedisRegistry::ListPeers(ListCallback done) {
  struct Listing {
    ListCallback done;
    std::vector<std::string> ids;
    int waiting = KeyLayout::kBuckets;
    bool failed = false;
  };
  if (!link_.up()) {
    done(std::nullopt);
    return;
  }
  auto listing = std::make_shared<Listing>(Listing{std::move(done), {}});
  auto on_reply = [listing](redisReply* reply) {
    if (IsError(reply) || reply->type != REDIS_REPLY_ARRAY) {
      listing->failed = true;
    } else {
      for (size_t i = 0; i < reply->elements; ++i) {
        listing->ids.emplace_back(ReplyText(reply->element[i]));
      }
    }
    if (--listing->waiting > 0) return;
    if (listing->failed) {
      listing->done(std::nullopt);
    } else {
      listing->done(std::move(listing->ids));
    }
  };
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    if (!link_.Command({"HKEYS", layout_.Peers(bucket)}, on_reply)) on_reply(nullptr);
  }
}

void RedisRegistry::RouteThroughRedis(std::string_view sender_pod, std::string_view sender,
                                      std::string_view target, std::string_view frame,
                                      std::string_view ref, bool queue_if_absent) {
  if (!link_.up()) {
    TellSender(sender_pod, sender, target, Undeliverable::kUnavailable, ref);
    return;
  }
  ++stats_.owner_lookups;
  const bool own = sender_pod == options_.pod_id;
  if (own) ++lookups_in_flight_[std::string(target)];
  const std::string expire_ms = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.expire).count());
  const std::string max_queued = std::to_string(options_.max_queued_per_peer);
  const int bucket = KeyLayout::BucketOf(target);
  link_.RunScript(
      kRoute, {layout_.Peers(bucket), layout_.Queue(target), layout_.Tokens(bucket)},
      {layout_.BucketPrefix(bucket), target, sender_pod, sender, frame, expire_ms, max_queued,
       options_.pod_id, queue_if_absent ? "queue" : "drop"},
      [this, own, sender_pod = std::string(sender_pod), sender = std::string(sender),
       target = std::string(target), ref = std::string(ref)](redisReply* reply) {
        const std::string_view outcome = IsError(reply) ? "" : ReplyText(reply);
        if (own) {
          auto in_flight = lookups_in_flight_.find(target);
          const bool last = in_flight != lookups_in_flight_.end() && --in_flight->second == 0;
          if (last) lookups_in_flight_.erase(in_flight);
          if (outcome.starts_with('R')) LearnOwner(target, outcome.substr(1));
          if (last && detours_.IsOpen(target)) {
            detours_.LookupsDone(target);
            FinishDetours();
          }
        }
        if (outcome.starts_with('R')) {
          ++stats_.relayed_remote;
        } else if (outcome == "N") {  // dropped: the target is absent and the frame does not wait
        } else if (outcome == "Q") {
          ++stats_.queued;
          Track(sender_pod, sender, target, Clock::now() + options_.expire);
        } else if (outcome == "F") {
          ++stats_.queue_rejected;
          TellSender(sender_pod, sender, target, Undeliverable::kPeerUnavailable, ref);
        } else {
          TellSender(sender_pod, sender, target, Undeliverable::kUnavailable, ref);
        }
      });
}

// ---------------------------------------------------------------------------------------------
// Messages from other pods.

void RedisRegistry::OnPodMessage(std::string_view bytes) {
  const std::optional<PodMessage> message = DecodePodMessage(bytes);
  if (!message) {
    Log(true, "ignored a malformed message on the pod channel", bytes.substr(0, 64));
    return;
  }
  switch (message->kind) {
    case PodMessage::Kind::kDeliver:
      OnDeliverMessage(*message);
      return;
    case PodMessage::Kind::kBounce:
      // A frame one of this pod's senders sent to a pod that does not hold its target: route it
      // again once that pod has handed back everything sent to it before the fence.
      if (!detours_.IsOpen(message->target)) OpenDetour(message->target, {});
      if (detours_.AwaitFence(message->target, message->pod)) {
        SendFence(message->target, message->pod);
      }
      detours_.AddReturned(message->target, HeldFrame{std::string(message->sender),
                                                      std::string(message->frame),
                                                      {},
                                                      message->queue_if_absent});
      return;
    case PodMessage::Kind::kFence: {
      // Everything that pod sent before the fence has been handled (delivered or bounced), unless
      // a release still holds some: then the answer follows them (FinishRelease).
      bouncing_.erase(std::string(message->pod) + " " + std::string(message->target));
      auto released = releasing_.find(std::string(message->target));
      if (released != releasing_.end()) {
        released->second.fences.emplace_back(message->pod);
      } else {
        AnswerFence(message->target, message->pod);
      }
      return;
    }
    case PodMessage::Kind::kFenceAnswer:
      detours_.FenceAnswered(message->target, message->pod);
      FinishDetours();
      return;
    case PodMessage::Kind::kReleased:
      OnReleased(message->target, message->nonce);
      return;
    case PodMessage::Kind::kReplaced:
      if (const PeerTable::Entry* holder = peers_.Find(message->target)) {
        PeerConnection* connection = holder->connection;
        peers_.EraseIfHeldBy(message->target, connection);
        connection->Evict(Eviction::kReplaced);
      }
      return;
    case PodMessage::Kind::kReceipts: {
      const std::optional<std::vector<Receipt>> receipts = DecodeReceipts(message->receipts);
      for (const Receipt& receipt : *receipts) {
        TellUnconfirmed(unconfirmed_.Confirm(message->pod, receipt));
      }
      return;
    }
    case PodMessage::Kind::kBacklogMarker:
      if (message->nonce == backlog_nonce_ && message->bucket < KeyLayout::kBuckets &&
          catching_up_[message->bucket]) {
        catching_up_[message->bucket] = false;
        --catching_up_count_;
      }
      return;
    case PodMessage::Kind::kExpired:
      if (const PeerTable::Entry* sender = peers_.Find(message->sender)) {
        sender->connection->NotifyUndeliverable(message->target, Undeliverable::kPeerUnavailable,
                                                {});
      }
      return;
  }
}

void RedisRegistry::OnDeliverMessage(const PodMessage& message) {
  ++stats_.received_remote;
  // Whatever happens to it below, this pod has it now: the sender's pod may stop waiting.
  if (message.sequence > 0) {
    const int bucket = KeyLayout::BucketOf(message.target);
    if (InBacklogAfterStall(bucket)) {
      ++stats_.stale_dropped;
      return;
    }
    if (!receipts_owed_.Handled(message.sender_pod, bucket, message.sequence, Clock::now())) {
      ++stats_.late_dropped;  // its sender's pod gave up on it, and told its sender
      return;
    }
  }
  if (!bouncing_.empty() &&
      bouncing_.contains(std::string(message.sender_pod) + " " + std::string(message.target))) {
    Bounce(message);
    return;
  }
  if (const PeerTable::Entry* target = peers_.Find(message.target)) {
    Deliver(target->connection, message.frame);
    // Who sent it is on that pod: an answer costs one PUBLISH.
    if (!owners_.Find(message.sender)) LearnOwner(message.sender, message.sender_pod);
    return;
  }
  const std::string target(message.target);
  Held held{std::string(message.sender_pod), std::string(message.sender),
            std::string(message.frame), message.queue_if_absent};
  if (auto it = registering_.find(target); it != registering_.end()) {
    it->second->held.push_back(std::move(held));
  } else if (auto released = releasing_.find(target); released != releasing_.end()) {
    (released->second.requeueing ? released->second.after : released->second.frames)
        .push_back(std::move(held));
  } else {
    Bounce(message);
  }
}

void RedisRegistry::Bounce(const PodMessage& message) {
  BounceHeld(message.target, Held{std::string(message.sender_pod), std::string(message.sender),
                                  std::string(message.frame), message.queue_if_absent});
}

void RedisRegistry::BounceHeld(std::string_view target, const Held& held) {
  ++stats_.bounced;
  if (bouncing_.emplace(held.sender_pod + " " + std::string(target), Clock::now()).second &&
      peers_.Find(target) == nullptr) {
    // If Redis still names this pod as the target's owner (the route step sent the frame here),
    // correct it, before the sender's pod routes the frame again.
    SendUnregister(std::string(target));
  }
  if (!link_.up()) return;  // the sender's pod treats the lost link as a failure of what it sent
  link_.Command(
      {link_.publish_verb(), layout_.ChannelFor(target, held.sender_pod),
       EncodeBounce(target, options_.pod_id, held.sender, held.frame, held.queue_if_absent)},
      nullptr);
}

void RedisRegistry::AnswerFence(std::string_view target, std::string_view pod) {
  if (!link_.up()) return;
  link_.Command({link_.publish_verb(), layout_.ChannelFor(target, pod),
                 EncodeFenceAnswer(target, options_.pod_id)},
                nullptr);
}

void RedisRegistry::TellSender(std::string_view sender_pod, std::string_view sender,
                               std::string_view target, Undeliverable reason,
                               std::string_view ref) {
  if (sender_pod == options_.pod_id) {
    if (const PeerTable::Entry* entry = peers_.Find(sender)) {
      entry->connection->NotifyUndeliverable(target, reason, ref);
    }
    return;
  }
  // A sender on another pod only hears of expiry (the only failure known after its pod let go of
  // the frame); its pod told it of anything else already.
  if (reason != Undeliverable::kPeerUnavailable || !link_.up()) return;
  link_.Command(
      {link_.publish_verb(), layout_.ChannelFor(target, sender_pod), EncodeExpired(sender, target)},
      nullptr);
}

// ---------------------------------------------------------------------------------------------
// Expiry.

void RedisRegistry::Track(std::string_view sender_pod, std::string_view sender,
                          std::string_view target, Clock::time_point check_at) {
  expiry_.Track({std::string(sender_pod), std::string(sender), std::string(target)}, check_at);
}

void RedisRegistry::Tick(Clock::time_point now) {
  if (!detours_.empty()) FinishDetours();
  ExchangeReceipts(now);
  std::erase_if(bouncing_, [now](const auto& entry) { return now - entry.second > kBouncingTtl; });
  for (ExpiryTracker::Pair& pair : expiry_.TakeDue(now)) CheckExpiry(std::move(pair));
}

// Once a second: sends the receipts owed (on each sending pod's channel of bucket 0), and tells the
// senders of frames that no receipt covered within the receipt timeout: the pod that Redis
// counted as subscribed never handled them.
void RedisRegistry::ExchangeReceipts(Clock::time_point now) {
  if (link_.up() && !receipts_owed_.empty() && now - receipts_sent_at_ >= kReceiptPeriod) {
    receipts_sent_at_ = now;
    for (const auto& [pod, receipts] : receipts_owed_.Take(now, kForgetStreamsAfter)) {
      link_.Command({link_.publish_verb(), layout_.Channel(0, pod),
                     EncodeReceipts(options_.pod_id, receipts)},
                    nullptr);
    }
  }
  if (unconfirmed_.size() == 0 || catching_up_count_ > 0) return;
  TellUnconfirmed(unconfirmed_.TakePublishedBefore(now - options_.receipt_timeout));
}

// A pod whose event loop stalled (frozen, starved) has a backlog on its channels: frames, and
// receipts for what it published. Until it has read it (its own marker, published on each of
// its channels when it resumes, has come back on all of them), it gives up on no frame for want
// of a receipt, since the receipt may be in the backlog. And if the stall was longer than the
// other pods wait for a receipt, the frames in the backlog have been given up on by their
// senders' pods (or will be): it drops them rather than deliver them as well. Receipts then start
// new ranges, so the sending pods take what lies between for lost.
//
// The stall shows first either here, when the frames are read before the heartbeat timer runs,
// or in OnStalled, when the timer runs first.
bool RedisRegistry::InBacklogAfterStall(int bucket) {
  if (catching_up_count_ == 0) {
    const Clock::duration stalled = Clock::now() - link_.last_heartbeat_timer();
    if (stalled > 2 * options_.heartbeat) OnStalled(stalled);
  }
  return dropping_backlog_ && catching_up_[bucket];
}

void RedisRegistry::OnStalled(Clock::duration stalled) {
  if (catching_up_count_ > 0 || !link_.up()) return;
  backlog_nonce_ = options_.pod_id + "-" + std::to_string(++backlog_count_);
  catching_up_.assign(KeyLayout::kBuckets, true);
  catching_up_count_ = KeyLayout::kBuckets;
  for (int bucket = 0; bucket < KeyLayout::kBuckets; ++bucket) {
    link_.Command({link_.publish_verb(), layout_.Channel(bucket, options_.pod_id),
                   EncodeBacklogMarker(bucket, backlog_nonce_)},
                  nullptr);
  }
  dropping_backlog_ = stalled > options_.heartbeat + options_.receipt_timeout - kReceiptPeriod;
  if (!dropping_backlog_) return;
  Log(true, "this pod stalled; dropping what it reads from before it resumed (senders told)",
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(stalled).count()) +
          " ms");
}

void RedisRegistry::TellUnconfirmed(std::vector<UnconfirmedFrames::Frame> frames) {
  for (UnconfirmedFrames::Frame& frame : frames) {
    ++stats_.unconfirmed;
    const std::optional<PodMessage> message = DecodePodMessage(frame.message);
    TellSender(options_.pod_id, message->sender, message->target, Undeliverable::kUnavailable,
               frame.ref);
  }
}

void RedisRegistry::CheckExpiry(ExpiryTracker::Pair pair) {
  auto again_in = [this](const ExpiryTracker::Pair& pair, std::chrono::milliseconds delay) {
    expiry_.Finished(pair);
    expiry_.Track(pair, Clock::now() + delay);
  };
  if (!link_.up()) {  // ask again once Redis is back
    again_in(pair, std::chrono::milliseconds(500));
    return;
  }
  link_.RunScript(
      kExpire, {layout_.Queue(pair.target)}, {pair.sender},
      [this, pair, again_in](redisReply* reply) {
        if (closing_) return;
        if (IsError(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
          again_in(pair, std::chrono::milliseconds(500));
          return;
        }
        const std::string_view status = ReplyText(reply->element[0]);
        const long long value = reply->element[1]->integer;
        if (status == "WAIT") {
          again_in(pair, std::chrono::milliseconds(value + 1));
          return;
        }
        expiry_.Finished(pair);
        if (status == "EXPIRED") {
          stats_.expired += static_cast<uint64_t>(value);
          TellSender(pair.sender_pod, pair.sender, pair.target, Undeliverable::kPeerUnavailable,
                     {});
        }
      });
}

// ---------------------------------------------------------------------------------------------

RoutingStats RedisRegistry::stats() const {
  RoutingStats stats = stats_;
  stats.peers = peers_.size();
  stats.redis_up = link_.up() ? 1 : 0;
  stats.redis_reconnects = link_.reconnects();
  stats.redis_errors = link_.errors();
  stats.redis_latency = &link_.script_latency();
  return stats;
}

void RedisRegistry::Close() {
  if (closing_) return;
  closing_ = true;
  link_.Close();
}

}  // namespace switchboard::routing
