#include "routing/redis_swarm_directory.h"

#include <charconv>
#include <memory>
#include <utility>

#include "routing/redis_registry_internal.h"

namespace switchboard::routing {

namespace {

std::optional<uint64_t> Count(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER || reply->integer < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(reply->integer);
}

// {complete, incomplete, downloaded} from three integer replies starting at `first`.
std::optional<SwarmCounts> CountsAt(const redisReply* reply, size_t first) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < first + 3) {
    return std::nullopt;
  }
  const auto complete = Count(reply->element[first]);
  const auto incomplete = Count(reply->element[first + 1]);
  const auto downloaded = Count(reply->element[first + 2]);
  if (!complete || !incomplete || !downloaded) return std::nullopt;
  return SwarmCounts{*complete, *incomplete, *downloaded};
}

std::optional<SwarmAnnounced> DecodeAnnounced(const redisReply* reply) {
  std::optional<SwarmCounts> counts = CountsAt(reply, 1);
  if (!counts) return std::nullopt;
  const std::string_view status = ReplyText(reply->element[0]);
  if (status != "OK" && status != "FULL") return std::nullopt;
  SwarmAnnounced out;
  out.refusal = status == "FULL" ? SwarmRefusal::kSwarmFull : SwarmRefusal::kNone;
  out.counts = *counts;
  for (size_t i = 4; i < reply->elements; ++i) {
    out.picked.emplace_back(ReplyText(reply->element[i]));
  }
  return out;
}

}  // namespace

RedisSwarmDirectory::RedisSwarmDirectory(RedisLink& link, const KeyLayout& layout,
                                         ScriptIds scripts, SwarmTable::Limits limits)
    : link_(link),
      layout_(layout),
      scripts_(scripts),
      ttl_ms_(std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(limits.member_ttl).count())),
      max_members_(std::to_string(limits.max_members)) {}

void RedisSwarmDirectory::Announce(const SwarmAnnounce& a, AnnounceCallback done) {
  if (!link_.up()) {
    done(std::nullopt);
    return;
  }
  const std::array<std::string, 3> keys = layout_.Swarm(a.swarm);
  const std::string wanted = std::to_string(a.wanted);
  link_.RunScript(
      scripts_.announce, {keys[0], keys[1], keys[2]},
      {a.member, a.complete ? "1" : "0", a.completed ? "1" : "0", wanted, ttl_ms_, max_members_},
      [done = std::move(done)](redisReply* reply) {
        done(IsError(reply) ? std::nullopt : DecodeAnnounced(reply));
      });
}

void RedisSwarmDirectory::Leave(std::string_view swarm, std::string_view member) {
  if (!link_.up()) return;  // it lapses with its TTL
  const std::array<std::string, 3> keys = layout_.Swarm(swarm);
  link_.RunScript(scripts_.leave, {keys[0], keys[1]}, {member}, [](redisReply*) {});
}

void RedisSwarmDirectory::Scrape(const std::vector<std::string>& swarms, ScrapeCallback done) {
  struct Scraping {
    ScrapeCallback done;
    std::vector<SwarmCounts> counts;
    size_t waiting;
    bool failed = false;
  };
  if (!link_.up()) {
    done(std::nullopt);
    return;
  }
  if (swarms.empty()) {
    done(std::vector<SwarmCounts>{});
    return;
  }
  auto scraping = std::make_shared<Scraping>(
      Scraping{std::move(done), std::vector<SwarmCounts>(swarms.size()), swarms.size()});
  for (size_t i = 0; i < swarms.size(); ++i) {
    const std::array<std::string, 3> keys = layout_.Swarm(swarms[i]);
    // One call per swarm: on a cluster each lives on its own slot.
    link_.RunScript(
        scripts_.counts, {keys[0], keys[1], keys[2]}, {}, [scraping, i](redisReply* reply) {
          std::optional<SwarmCounts> counts = IsError(reply) ? std::nullopt : CountsAt(reply, 0);
          if (counts) scraping->counts[i] = *counts;
          scraping->failed |= !counts;
          if (--scraping->waiting > 0) return;
          if (scraping->failed) {
            scraping->done(std::nullopt);
          } else {
            scraping->done(std::move(scraping->counts));
          }
        });
  }
}

}  // namespace switchboard::routing
