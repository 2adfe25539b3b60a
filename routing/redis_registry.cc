// RedisRegistry (redis_registry.h): construction, the link to Redis coming and going, this pod's
// liveness and the reaping of dead pods' peers, and the tick that drives the timed parts. The
// other concepts live in the files listed in redis_registry_internal.h.
#include <array>
#include <utility>

#include "routing/redis_registry_internal.h"
#include "routing/redis_scripts.h"
#include "routing/redis_swarm_scripts.h"

namespace switchboard::routing {

namespace {

// In RegistryScript order.
constexpr std::array<const std::string_view*, 11> kScripts = {
    &scripts::kRoute,         &scripts::kRegister,   &scripts::kUnregister, &scripts::kRelease,
    &scripts::kRequeue,       &scripts::kExpire,     &scripts::kReap,       &scripts::kLoads,
    &scripts::kSwarmAnnounce, &scripts::kSwarmLeave, &scripts::kSwarmCounts};

// How long "<pod> <target>" stays in the bouncing set without the fence that clears it (the
// sender's pod died).
constexpr std::chrono::seconds kBouncingTtl(30);

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
             .scripts = ScriptsOfPod(options_.pod_id, options_.cluster),
             .sentinel = options_.sentinel},
            {.up = [this](bool restarted) { OnUp(restarted); },
             .down = [this] { OnDown(); },
             .message = [this](std::string_view message) { OnPodMessage(message); },
             .alive = [this](bool lapsed) { OnAlive(lapsed); },
             .heartbeat = [this] { OnHeartbeat(); },
             .stalled = [this](Clock::duration stalled) { OnStalled(stalled); },
             .log = options_.log}),
      owners_(options_.owner_cache_size),
      swarms_(link_, layout_, {kSwarmAnnounce, kSwarmLeave, kSwarmCounts}, options_.swarm_limits) {}

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
  // Receipts sent while the link was away are lost, and Redis may still run what the old
  // connection held: ask every pod this pod waits on (delivery_receipts.h).
  SendUnsent();
  SendAsks(unconfirmed_.TakeAsks(Clock::now(), Clock::now(), /*all=*/true));
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
  queued_for_.clear();
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
  registering_.at(peer)->reclaim = true;
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

void RedisRegistry::Tick(Clock::time_point now) {
  if (!detours_.empty()) FinishDetours();
  ExchangeReceipts(now);
  std::erase_if(bouncing_, [now](const auto& entry) { return now - entry.second > kBouncingTtl; });
  for (ExpiryTracker::Pair& pair : expiry_.TakeDue(now)) CheckExpiry(std::move(pair));
}

RoutingStats RedisRegistry::stats() const {
  RoutingStats stats = stats_;
  stats.peers = peers_.size();
  stats.redis_up = link_.up() ? 1 : 0;
  stats.redis_reconnects = link_.reconnects();
  stats.redis_errors = link_.errors();
  stats.redis_latency = &link_.script_latency();
  return stats;
}

void RedisRegistry::ExchangeLoads(const PodLoad& own, LoadsCallback done) {
  if (!link_.up()) {
    done(std::nullopt);
    return;
  }
  const std::string load = EncodePodLoad(own);
  const std::string ttl = std::to_string(options_.alive_ttl.count());
  link_.RunScript(kLoads, {layout_.Loads()}, {options_.pod_id, load, ttl},
                  [done = std::move(done)](redisReply* reply) {
                    if (IsError(reply) || reply->type != REDIS_REPLY_ARRAY) {
                      done(std::nullopt);
                      return;
                    }
                    std::vector<PodLoad> pods;
                    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
                      if (std::optional<PodLoad> pod = DecodePodLoad(
                              ReplyText(reply->element[i]), ReplyText(reply->element[i + 1]))) {
                        pods.push_back(std::move(*pod));
                      }
                    }
                    done(std::move(pods));
                  });
}

bool RedisRegistry::Settled() const {
  // The receipts owed too: without them the senders' pods would take what this pod delivered
  // for lost, and tell its senders.
  return !link_.up() || (releasing_.empty() && registering_.empty() && publishes_.empty() &&
                         detours_.empty() && receipts_owed_.empty());
}

void RedisRegistry::Close() {
  if (closing_) return;
  closing_ = true;
  link_.Close();
}

}  // namespace switchboard::routing
