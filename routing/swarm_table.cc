#include "routing/swarm_table.h"

#include <algorithm>
#include <utility>

namespace switchboard::routing {

namespace {

// An announce moving a member's deadline by less than this queues no new entry.
constexpr auto kDeadlineGranularity = std::chrono::seconds(1);

}  // namespace

SwarmAnnounced SwarmTable::Announce(const SwarmAnnounce& a, Clock::time_point now,
                                    std::mt19937_64& random) {
  SwarmAnnounced out;
  auto it = swarms_.find(a.swarm);
  if (it == swarms_.end()) {
    if (swarms_.size() >= limits_.max_swarms) {
      out.refusal = SwarmRefusal::kTooManySwarms;
      return out;
    }
    if (limits_.max_members == 0) {
      out.refusal = SwarmRefusal::kSwarmFull;
      return out;
    }
    it = swarms_.emplace(std::string(a.swarm), Swarm{}).first;
  }
  Swarm& swarm = it->second;
  auto found = swarm.index.find(a.member);
  const bool is_new = found == swarm.index.end();
  if (is_new) {
    if (swarm.members.size() >= limits_.max_members) {
      out.refusal = SwarmRefusal::kSwarmFull;
      out.counts = swarm.counts;
      return out;
    }
    found = swarm.index.emplace(std::string(a.member), swarm.members.size()).first;
    swarm.members.push_back(Member{found->first, false, {}, {}});
    ++swarm.counts.incomplete;
    ++members_;
  }
  Member& member = swarm.members[found->second];
  const bool was_complete = !is_new && member.complete;
  const bool queue = is_new || now + limits_.member_ttl >= member.queued + kDeadlineGranularity;
  if (a.complete != member.complete) {
    --(member.complete ? swarm.counts.complete : swarm.counts.incomplete);
    ++(a.complete ? swarm.counts.complete : swarm.counts.incomplete);
    member.complete = a.complete;
  }
  if (a.completed && !was_complete) ++swarm.counts.downloaded;
  member.deadline = now + limits_.member_ttl;
  if (queue) Queue(it->first, member);
  out.counts = swarm.counts;
  out.picked = PickFrom(swarm, a.member, a.wanted, random);
  return out;
}

std::vector<std::string> SwarmTable::Pick(std::string_view swarm, std::string_view except,
                                          size_t wanted, std::mt19937_64& random) {
  auto it = swarms_.find(swarm);
  if (it == swarms_.end()) return {};
  return PickFrom(it->second, except, wanted, random);
}

bool SwarmTable::Leave(std::string_view swarm, std::string_view member) {
  auto it = swarms_.find(swarm);
  if (it == swarms_.end()) return false;
  auto found = it->second.index.find(member);
  if (found == it->second.index.end()) return false;
  Remove(it, found->second);
  return true;
}

SwarmCounts SwarmTable::Counts(std::string_view swarm) const {
  auto it = swarms_.find(swarm);
  return it == swarms_.end() ? SwarmCounts{} : it->second.counts;
}

size_t SwarmTable::Expire(Clock::time_point now) {
  size_t removed = 0;
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const Deadline due = deadlines_.top();
    deadlines_.pop();
    auto swarm = swarms_.find(due.swarm);
    if (swarm == swarms_.end()) continue;
    auto found = swarm->second.index.find(due.member);
    if (found == swarm->second.index.end()) continue;
    Member& member = swarm->second.members[found->second];
    if (member.queued != due.at) continue;  // a later entry stands for it
    if (member.deadline <= now) {
      Remove(swarm, found->second);
      ++removed;
    } else {
      Queue(due.swarm, member);  // refreshed by less than the granularity since
    }
  }
  return removed;
}

void SwarmTable::Queue(std::string_view swarm, Member& member) {
  member.queued = member.deadline;
  deadlines_.push(Deadline{member.deadline, std::string(swarm), member.key});
}

void SwarmTable::Remove(StringMap<Swarm>::iterator it, size_t at) {
  Swarm& swarm = it->second;
  Member& member = swarm.members[at];
  --(member.complete ? swarm.counts.complete : swarm.counts.incomplete);
  swarm.index.erase(member.key);
  if (at + 1 != swarm.members.size()) {
    member = std::move(swarm.members.back());
    swarm.index.find(member.key)->second = at;
  }
  swarm.members.pop_back();
  --members_;
  if (swarm.members.empty()) swarms_.erase(it);
}

std::vector<std::string> SwarmTable::PickFrom(Swarm& swarm, std::string_view except, size_t wanted,
                                              std::mt19937_64& random) {
  std::vector<Member>& members = swarm.members;
  const auto swap = [&](size_t a, size_t b) {
    if (a == b) return;
    std::swap(members[a], members[b]);
    swarm.index.find(members[a].key)->second = a;
    swarm.index.find(members[b].key)->second = b;
  };
  size_t candidates = members.size();
  if (auto found = swarm.index.find(except); found != swarm.index.end()) {
    swap(found->second, --candidates);  // set aside at the end
  }
  const size_t count = std::min(wanted, candidates);
  std::vector<std::string> picked;
  picked.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    swap(i, std::uniform_int_distribution<size_t>(i, candidates - 1)(random));
    picked.push_back(members[i].key);
  }
  return picked;
}

}  // namespace switchboard::routing
