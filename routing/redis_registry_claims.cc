// RedisRegistry: claiming a peer id in Redis (the register step, which hands over the peer's
// queue in the same step), giving it back, and what happens to a claim whose connection left
// before Redis answered.
#include <algorithm>
#include <utility>

#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

namespace {

// How long Redis keeps what a register step handed over, for a next step of the same pod whose
// predecessor's reply was lost: longer than the pod takes to reconnect and claim its peers again.
constexpr std::chrono::milliseconds kHandedTtl(60000);

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
      for (Held& held : *frames) Deliver(connection, held);
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
  std::string nonce = options_.pod_id + "-" + instance_ + "-" + std::to_string(++register_count_);
  // The queue an earlier step whose reply was lost handed over, if Redis ran it.
  std::string lost;
  if (auto it = handover_lost_.find(peer); it != handover_lost_.end()) {
    lost = std::move(it->second);
    handover_lost_.erase(it);
  }
  registering_[peer] = std::make_unique<Registering>(
      Registering{connection, std::string(token), std::move(done), local_result, std::move(held),
                  std::nullopt, std::move(before_queue), nonce, false, false, 0, std::nullopt});
  const int bucket = KeyLayout::BucketOf(peer);
  link_.RunScript(kRegister,
                  {layout_.Peers(bucket), layout_.Tokens(bucket), layout_.Queue(peer),
                   layout_.PodPeers(bucket, options_.pod_id), layout_.Released(peer),
                   layout_.Pods(bucket), layout_.Handed(peer)},
                  {layout_.BucketPrefix(bucket), peer, options_.pod_id, TokenHash(token), lost,
                   nonce, std::to_string(kHandedTtl.count())},
                  [this, peer](redisReply* reply) { OnRegisterReply(peer, reply); });
}

RedisRegistry::ClaimAnswer RedisRegistry::ReadClaimAnswer(const redisReply* reply) {
  using Status = ClaimAnswer::Status;
  ClaimAnswer answer;
  if (reply == nullptr) return answer;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    answer.status = Status::kFailed;
    return answer;
  }
  const std::string_view status = ReplyText(reply->element[0]);
  answer.status = status == "TAKEN"  ? Status::kTaken
                  : status == "TOOK" ? Status::kTookOver
                                     : Status::kClaimed;
  if (reply->elements < 2) return answer;
  answer.marked = reply->element[1]->type == REDIS_REPLY_INTEGER && reply->element[1]->integer > 0;
  for (size_t i = 2; i < reply->elements; ++i) {
    if (auto queued = DecodeQueuedEntry(ReplyText(reply->element[i]))) {
      answer.queue.push_back({std::string(queued->sender_pod), std::string(queued->sender),
                              std::string(queued->frame)});
    }
  }
  return answer;
}

void RedisRegistry::OnRegisterReply(const std::string& peer, redisReply* reply) {
  auto it = registering_.find(peer);
  if (it == registering_.end()) return;  // unregistered meanwhile; Unregister cleaned up
  Registering& claim = *it->second;
  // Redis may have run the step, and handed over the queue into the reply that was lost: the
  // next step for the peer asks for it again.
  if (reply == nullptr) handover_lost_[peer] = claim.nonce;
  ClaimAnswer answer = ReadClaimAnswer(reply);
  if (claim.reclaim && answer.marked && !claim.marker_seen) {
    claim.answer = std::move(answer);  // the marker is still on its way on the subscriber
    return;
  }
  SettleClaim(peer, std::move(answer));
}

void RedisRegistry::OnClaimMarker(std::string_view peer, std::string_view nonce) {
  const std::string key(peer);
  auto it = registering_.find(key);
  // Not this claim's (settled already), or a first claim, which does not wait for its marker.
  if (it == registering_.end() || it->second->nonce != nonce || !it->second->reclaim) return;
  Registering& claim = *it->second;
  claim.marker_seen = true;
  claim.held_before_marker = claim.held.size();
  if (claim.answer) {
    ClaimAnswer answer = std::move(*claim.answer);
    SettleClaim(key, std::move(answer));
  }
}

// The link is gone with the markers still on their way: those claims settle without them, the
// queue first (as if everything held had come after the step).
void RedisRegistry::OnDown() {
  std::vector<std::string> waiting;
  for (const auto& [peer, claim] : registering_) {
    if (claim->answer) waiting.push_back(peer);
  }
  for (const std::string& peer : waiting) {
    ClaimAnswer answer = std::move(*registering_[peer]->answer);
    SettleClaim(peer, std::move(answer));
  }
}

std::vector<RedisRegistry::Held> RedisRegistry::InClaimOrder(Registering& claim,
                                                             std::vector<Held> queue) {
  std::vector<Held> frames = std::move(claim.before_queue);
  std::vector<Held> later;
  for (size_t i = 0; i < claim.held.size(); ++i) {
    const bool before = i < claim.held_before_marker && claim.held[i].from_channel;
    (before ? frames : later).push_back(std::move(claim.held[i]));
  }
  for (std::vector<Held>* part : {&queue, &later}) {
    frames.insert(frames.end(), std::make_move_iterator(part->begin()),
                  std::make_move_iterator(part->end()));
  }
  return frames;
}

void RedisRegistry::SettleClaim(const std::string& peer, ClaimAnswer answer) {
  using Status = ClaimAnswer::Status;
  auto it = registering_.find(peer);
  std::unique_ptr<Registering> claim = std::move(it->second);
  registering_.erase(it);
  const size_t queued = answer.queue.size();
  std::vector<Held> frames = InClaimOrder(*claim, std::move(answer.queue));
  if (claim->connection == nullptr) {
    ReturnAbandonedClaim(peer, answer.status == Status::kTaken, std::move(frames));
    // Sent after the steps that gave the id and the frames back, so it claims the id with its
    // own token and takes those frames, in order.
    if (claim->successor) {
      Successor next = std::move(*claim->successor);
      Register(peer, next.token, next.connection, std::move(next.done));
    }
    return;
  }
  if (answer.status == Status::kTaken) {
    claim->done(RegisterResult::kIdTaken);
    for (Held& held : frames) {
      RouteThroughRedis(held.sender_pod, held.sender, peer, held.frame, {}, held.queue_if_absent);
    }
    return;
  }
  // Without an answer (Redis went away) the peer is served locally; OnUp() claims it again. An
  // error answer (Redis refused the write: full, read-only...) is no claim either: the next
  // heartbeat that Redis accepts claims it again.
  peers_.Set(peer, claim->connection, claim->token);
  if (answer.status == Status::kFailed) unclaimed_.insert(peer);
  claim->done(answer.status == Status::kTookOver ? RegisterResult::kTookOver : claim->local_result);
  const PeerTable::Entry* entry = peers_.Find(peer);
  if (entry == nullptr || entry->connection != claim->connection) return;  // closed in done
  for (Held& held : frames) Deliver(claim->connection, held);
  stats_.relayed_local += queued;
}

void RedisRegistry::Unregister(std::string_view peer_view, PeerConnection* connection,
                               std::vector<UnsentFrame> unsent) {
  const std::string peer(peer_view);
  std::vector<Held> frames = ToHeld(std::move(unsent));
  if (auto it = registering_.find(peer); it != registering_.end()) {
    std::optional<Successor>& successor = it->second->successor;
    if (successor && successor->connection == connection) {
      successor.reset();  // the abandoned claim then only gives the id back
      TellHeld(peer, frames, Undeliverable::kPeerUnavailable);
      return;
    }
    if (it->second->connection != connection) {
      TellHeld(peer, frames, Undeliverable::kPeerUnavailable);
      return;
    }
    // The register step will still claim the id and hand back its queue: keep the claim, without
    // its connection, until the reply says what to give back (ReturnAbandonedClaim). A claim made
    // again (Reclaim) may have delivered frames already: those left unwritten go first.
    std::vector<Held>& before = it->second->before_queue;
    before.insert(before.begin(), std::make_move_iterator(frames.begin()),
                  std::make_move_iterator(frames.end()));
    it->second->connection = nullptr;
    it->second->done = nullptr;
    return;
  }
  if (peers_.EraseIfHeldBy(peer, connection)) {
    handover_lost_.erase(peer);
    SendRelease(peer, std::move(frames));
    return;
  }
  TellHeld(peer, frames, Undeliverable::kPeerUnavailable);  // taken over: newer frames went on
}

std::vector<RedisRegistry::Held> RedisRegistry::ToHeld(std::vector<UnsentFrame> unsent) const {
  std::vector<Held> held;
  held.reserve(unsent.size());
  for (UnsentFrame& frame : unsent) {
    if (!frame.frame.queue_if_absent) continue;  // means nothing to a peer that was not there
    held.push_back(Held{frame.sender_pod.empty() ? options_.pod_id : std::move(frame.sender_pod),
                        std::move(frame.sender), std::string(frame.frame.frame.body()), true});
  }
  return held;
}

void RedisRegistry::TellHeld(std::string_view peer, const std::vector<Held>& frames,
                             Undeliverable reason) {
  std::vector<const Held*> told;  // one notice per sender
  for (const Held& held : frames) {
    const bool seen = std::any_of(told.begin(), told.end(), [&held](const Held* other) {
      return other->sender == held.sender && other->sender_pod == held.sender_pod;
    });
    if (seen) continue;
    told.push_back(&held);
    TellSender(held.sender_pod, held.sender, peer, reason, {});
  }
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

void RedisRegistry::ReturnAbandonedClaim(const std::string& peer, bool refused,
                                         std::vector<Held> frames) {
  // Without a reply the step may still have claimed the id: Redis can run it and the link break
  // before the reply is read. Releasing an id this pod does not hold changes nothing (the step
  // checks the owner), and with the link down SendUnregister leaves it to OnUp().
  if (!refused) SendUnregister(peer);
  // What the peer would have received goes back through Redis, in order, after the unregister
  // step: it queues for the peer's next connection, wherever that will be.
  for (Held& frame : frames) {
    RouteThroughRedis(frame.sender_pod, frame.sender, peer, frame.frame, {}, frame.queue_if_absent);
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

void RedisRegistry::Deliver(PeerConnection* connection, std::string_view frame,
                            const FrameOrigin& origin) {
  protocol::Frame copy(frame.size());
  copy.Append(frame);
  connection->Deliver(RoutedFrame{std::move(copy), Clock::now()}, origin);
}

void RedisRegistry::Deliver(PeerConnection* connection, const Held& held) {
  Deliver(connection, held.frame, FrameOrigin{held.sender_pod, held.sender});
}

}  // namespace switchboard::routing
