#include "routing/sentinel_resolver.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace switchboard::routing {
namespace {

constexpr size_t kMaxDetail = 120;  // bytes of text off the network kept in a log line

bool Fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

// At most kMaxDetail bytes of `text`, each byte outside printable ASCII shown as '?': what a
// reply or an operator wrote, safe for a log line.
std::string Clip(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kMaxDetail)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < ' ' || byte > '~' ? '?' : c);
  }
  if (text.size() > kMaxDetail) out += "...";
  return out;
}

std::string_view Text(const redisReply* reply) {
  if (reply == nullptr || reply->str == nullptr) return {};
  return std::string_view(reply->str, reply->len);
}

const redisReply* Child(const redisReply* array, size_t index) {
  if (array->element == nullptr || index >= array->elements) return nullptr;
  return array->element[index];
}

const char* TypeName(int type) {
  switch (type) {
    case REDIS_REPLY_STRING:
      return "a string";
    case REDIS_REPLY_ARRAY:
      return "an array";
    case REDIS_REPLY_INTEGER:
      return "an integer";
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "a status";
    case REDIS_REPLY_ERROR:
      return "an error";
  }
  return "a reply of unknown type";
}

// A decimal port from 1 to 65535, digits only (no sign, no spaces).
std::optional<int> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int port = 0;
  std::from_chars(text.data(), text.data() + text.size(), port);
  if (port < 1 || port > 65535) return std::nullopt;
  return port;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool SameHost(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return lower(x) == lower(y);
  });
}

// Parses one entry of the sentinel list; `what` names it in errors.
std::optional<NodeAddress> ParseSentinel(std::string_view entry, const std::string& what,
                                         std::string* error) {
  NodeAddress sentinel;
  sentinel.port = kDefaultSentinelPort;
  std::string_view host = entry;
  std::optional<std::string_view> port;
  if (entry.starts_with('[')) {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) {
      Fail(error, what + ": the [ is not closed");
      return std::nullopt;
    }
    host = entry.substr(1, close - 1);
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        Fail(error, what + ": expected :port after the ]");
        return std::nullopt;
      }
      port = rest.substr(1);
    }
    if (host.empty()) {
      Fail(error, what + ": the host is missing");
      return std::nullopt;
    }
    if (host.find(':') == std::string_view::npos) {
      Fail(error, what + ": only an IPv6 address goes in brackets");
      return std::nullopt;
    }
  } else {
    const size_t colon = entry.find(':');
    if (colon != std::string_view::npos) {
      if (entry.find(':', colon + 1) != std::string_view::npos) {
        Fail(error, what + ": an IPv6 address must be in brackets, as [address]:port");
        return std::nullopt;
      }
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
    if (host.empty()) {
      Fail(error, what + ": the host is missing");
      return std::nullopt;
    }
  }
  if (host.find_first_of("[]") != std::string_view::npos) {
    Fail(error, what + ": a stray bracket in the host");
    return std::nullopt;
  }
  if (host.size() > 255) {
    Fail(error, what + ": the host is longer than 255 bytes");
    return std::nullopt;
  }
  if (!IsPlausibleNodeHost(host)) {
    Fail(error, what + ": the host must be printable ASCII without spaces");
    return std::nullopt;
  }
  if (port) {
    const std::optional<int> number = ParsePort(*port);
    if (!number) {
      Fail(error, port->empty() ? what + ": the port is missing after the ':'"
                                : what + ": the port must be a number from 1 to 65535");
      return std::nullopt;
    }
    sentinel.port = *number;
  }
  sentinel.host = std::string(host);
  return sentinel;
}

// How a sentinel of a failed round failed, after its address and ": ".
std::string Describe(const MasterAddrAnswer::Kind kind, const std::string& detail,
                     const std::string& master_name) {
  switch (kind) {
    case MasterAddrAnswer::Kind::kUnknownMaster:
      return "does not know master '" + master_name + "'";
    case MasterAddrAnswer::Kind::kError:
      return "answered with an error: " + detail;
    case MasterAddrAnswer::Kind::kUnreachable:
    case MasterAddrAnswer::Kind::kAddress:
      break;
  }
  return detail.empty() ? std::string("unreachable") : detail;
}

}  // namespace

std::optional<std::vector<NodeAddress>> ParseSentinelList(std::string_view text,
                                                          std::string* error) {
  if (Trim(text).empty()) {
    Fail(error, "the sentinel list is empty");
    return std::nullopt;
  }
  std::vector<NodeAddress> sentinels;
  size_t number = 0;
  for (size_t at = 0; at <= text.size();) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string_view entry = Trim(text.substr(at, comma - at));
    ++number;
    const std::string what = "sentinel entry " + std::to_string(number);
    if (entry.empty()) {
      Fail(error, what + " is empty (two commas in a row, or one at an end)");
      return std::nullopt;
    }
    std::optional<NodeAddress> sentinel =
        ParseSentinel(entry, what + " (\"" + Clip(entry) + "\")", error);
    if (!sentinel) return std::nullopt;
    for (size_t i = 0; i < sentinels.size(); ++i) {
      if (sentinels[i].port == sentinel->port && SameHost(sentinels[i].host, sentinel->host)) {
        Fail(error, what + ": " + ToString(*sentinel) + " is listed twice (entries " +
                        std::to_string(i + 1) + " and " + std::to_string(number) + ")");
        return std::nullopt;
      }
    }
    sentinels.push_back(std::move(*sentinel));
    at = comma + 1;
  }
  return sentinels;
}

bool IsValidSentinelMasterName(std::string_view name, std::string* error) {
  if (name.empty()) return Fail(error, "the sentinel master name is empty");
  if (name.size() > 255) return Fail(error, "the sentinel master name is longer than 255 bytes");
  if (!IsPlausibleNodeHost(name)) {
    return Fail(error, "the sentinel master name must be printable ASCII without spaces");
  }
  return true;
}

MasterAddrAnswer ParseMasterAddrReply(const redisReply* reply) {
  using Kind = MasterAddrAnswer::Kind;
  if (reply == nullptr) return {Kind::kUnreachable, {}, "the connection was lost before a reply"};
  if (reply->type == REDIS_REPLY_NIL) return {Kind::kUnknownMaster, {}, {}};
  if (reply->type == REDIS_REPLY_ERROR) return {Kind::kError, {}, Clip(Text(reply))};
  if (reply->type != REDIS_REPLY_ARRAY) {
    return {Kind::kError,
            {},
            std::string("the reply is ") + TypeName(reply->type) + ", not [host, port]"};
  }
  if (reply->elements != 2) {
    return {Kind::kError,
            {},
            "the reply has " + std::to_string(reply->elements) + " elements, not [host, port]"};
  }
  const redisReply* host = Child(reply, 0);
  const redisReply* port = Child(reply, 1);
  if (host == nullptr || port == nullptr || host->type != REDIS_REPLY_STRING ||
      port->type != REDIS_REPLY_STRING) {
    return {Kind::kError, {}, "the reply is not [host, port] as two strings"};
  }
  if (!IsPlausibleNodeHost(Text(host))) {
    return {Kind::kError, {}, "the host in the reply is not a host name or address"};
  }
  const std::optional<int> number = ParsePort(Text(port));
  if (!number) {
    return {Kind::kError,
            {},
            "the port in the reply (\"" + Clip(Text(port)) + "\") is not a number from 1 to 65535"};
  }
  return {Kind::kAddress, NodeAddress{std::string(Text(host)), *number}, {}};
}

RoleAnswer ParseRoleReply(const redisReply* reply) {
  using Kind = RoleAnswer::Kind;
  if (reply == nullptr) return {Kind::kUnreachable, "the connection was lost before a reply"};
  if (reply->type == REDIS_REPLY_ERROR) return {Kind::kError, Clip(Text(reply))};
  if (reply->type != REDIS_REPLY_ARRAY) {
    return {Kind::kError,
            std::string("the ROLE reply is ") + TypeName(reply->type) + ", not an array"};
  }
  const redisReply* role = Child(reply, 0);
  if (role == nullptr || role->type != REDIS_REPLY_STRING) {
    return {Kind::kError, "the ROLE reply does not start with the role"};
  }
  const std::string_view name = Text(role);
  if (name == "master") return {Kind::kMaster, "master"};
  if (name == "slave" || name == "replica") {
    // [role, master host, master port, state, offset]
    const redisReply* host = Child(reply, 1);
    const redisReply* port = Child(reply, 2);
    if (host != nullptr && port != nullptr && host->type == REDIS_REPLY_STRING &&
        port->type == REDIS_REPLY_INTEGER) {
      return {Kind::kReplica,
              "a replica of " +
                  ToString(NodeAddress{Clip(Text(host)), static_cast<int>(port->integer)})};
    }
    return {Kind::kReplica, "a replica"};
  }
  if (name == "sentinel") return {Kind::kOther, "a sentinel, not a master"};
  return {Kind::kOther, "of role \"" + Clip(name) + "\", not a master"};
}

std::optional<SwitchMaster> ParseSwitchMaster(std::string_view payload, std::string* error) {
  constexpr std::string_view kShape =
      "+switch-master: expected \"<master-name> <old-ip> <old-port> <new-ip> <new-port>\"";
  std::vector<std::string_view> fields;
  for (size_t at = 0; at <= payload.size();) {
    const size_t space = std::min(payload.find(' ', at), payload.size());
    fields.push_back(payload.substr(at, space - at));
    at = space + 1;
  }
  if (fields.size() != 5) {
    Fail(error, std::string(kShape) + ", got " + std::to_string(fields.size()) + " fields");
    return std::nullopt;
  }
  for (const std::string_view field : fields) {
    if (field.empty()) {
      Fail(error, std::string(kShape) + ", got an empty field");
      return std::nullopt;
    }
  }
  SwitchMaster message;
  if (!IsValidSentinelMasterName(fields[0], nullptr)) {
    Fail(error, "+switch-master: the master name is not printable ASCII");
    return std::nullopt;
  }
  message.master_name = std::string(fields[0]);
  NodeAddress* ends[2] = {&message.from, &message.to};
  for (int i = 0; i < 2; ++i) {
    const std::string_view which = i == 0 ? "old" : "new";
    const std::string_view host = fields[1 + 2 * i];
    const std::optional<int> port = ParsePort(fields[2 + 2 * i]);
    if (!IsPlausibleNodeHost(host)) {
      Fail(error, "+switch-master: the " + std::string(which) + " host is not printable ASCII");
      return std::nullopt;
    }
    if (!port) {
      Fail(error,
           "+switch-master: the " + std::string(which) + " port is not a number from 1 to 65535");
      return std::nullopt;
    }
    ends[i]->host = std::string(host);
    ends[i]->port = *port;
  }
  return message;
}

SentinelResolver::SentinelResolver(Options options)
    : options_(std::move(options)),
      sentinels_(options_.sentinels),
      backoff_(options_.backoff_initial, options_.backoff_max) {}

double SentinelResolver::RandomUnit() const {
  return options_.random_unit ? options_.random_unit() : 0.5;
}

const SentinelResolver::Step& SentinelResolver::Enter(Action action, NodeAddress address,
                                                      Clock::time_point deadline, Cause cause,
                                                      std::string reason) {
  step_.action = action;
  step_.attempt = ++attempts_;
  step_.address = std::move(address);
  step_.deadline = deadline;
  step_.cause = cause;
  step_.reason = std::move(reason);
  return step_;
}

SentinelResolver::Step SentinelResolver::Begin(Clock::time_point now) { return NewRound(now); }

void SentinelResolver::Stop() { Enter(Action::kIdle); }

SentinelResolver::Step SentinelResolver::NewRound(Clock::time_point now) {
  outcomes_.clear();
  next_ = 0;
  if (sentinels_.empty()) {
    return Wait(now, backoff_.Next(RandomUnit()), Cause::kNoSentinels,
                "no sentinels are configured for master '" + options_.master_name + "'");
  }
  return AskNext(now);
}

SentinelResolver::Step SentinelResolver::AskNext(Clock::time_point now) {
  if (next_ >= sentinels_.size()) return EndFailedRound(now);
  return Enter(Action::kAskSentinel, sentinels_[next_], now + options_.sentinel_timeout);
}

SentinelResolver::Step SentinelResolver::EndFailedRound(Clock::time_point now) {
  const auto all = [&](auto predicate) {
    return std::all_of(outcomes_.begin(), outcomes_.end(), predicate);
  };
  Cause cause = Cause::kNoAddress;
  std::string reason;
  if (all([](const Outcome& o) { return o.kind == MasterAddrAnswer::Kind::kUnreachable; })) {
    cause = Cause::kSentinelsUnreachable;
    reason = "no sentinel answered:";
  } else if (all([](const Outcome& o) {
               return o.kind == MasterAddrAnswer::Kind::kUnknownMaster;
             })) {
    cause = Cause::kMasterUnknown;
    reason = "no sentinel knows master '" + options_.master_name + "' (asked";
    for (size_t i = 0; i < outcomes_.size(); ++i) {
      reason += (i == 0 ? " " : ", ") + ToString(outcomes_[i].sentinel);
    }
    reason += ")";
  } else {
    reason = "no sentinel gave the address of master '" + options_.master_name + "':";
  }
  if (cause != Cause::kMasterUnknown) {
    for (size_t i = 0; i < outcomes_.size(); ++i) {
      const Outcome& outcome = outcomes_[i];
      reason += (i == 0 ? " " : "; ") + ToString(outcome.sentinel) + ": " +
                Describe(outcome.kind, outcome.detail, options_.master_name);
    }
  }
  return Wait(now, backoff_.Next(RandomUnit()), cause, std::move(reason));
}

SentinelResolver::Step SentinelResolver::Wait(Clock::time_point now, Backoff::Duration delay,
                                              Cause cause, std::string reason) {
  return Enter(Action::kWait, {}, now + delay, cause, std::move(reason));
}

std::optional<SentinelResolver::Step> SentinelResolver::OnSentinelAnswer(
    uint64_t attempt, Clock::time_point now, const MasterAddrAnswer& answer) {
  if (attempt != step_.attempt || step_.action != Action::kAskSentinel) return std::nullopt;
  if (answer.kind == MasterAddrAnswer::Kind::kAddress) {
    named_by_ = step_.address;
    return Enter(Action::kCheckRole, answer.address, now + options_.role_timeout);
  }
  outcomes_.push_back(Outcome{step_.address, answer.kind, answer.detail});
  ++next_;
  return AskNext(now);
}

std::optional<SentinelResolver::Step> SentinelResolver::OnRole(uint64_t attempt,
                                                               Clock::time_point now,
                                                               const RoleAnswer& answer) {
  if (attempt != step_.attempt || step_.action != Action::kCheckRole) return std::nullopt;
  const NodeAddress candidate = step_.address;
  const std::string named = "sentinel " + ToString(named_by_) + " named " + ToString(candidate) +
                            " as master '" + options_.master_name + "', but " + ToString(candidate);
  switch (answer.kind) {
    case RoleAnswer::Kind::kMaster:
      MoveToFront(named_by_);
      backoff_.Reset();
      master_ = candidate;
      return Enter(Action::kUse, candidate);
    case RoleAnswer::Kind::kReplica:
    case RoleAnswer::Kind::kOther: {
      MoveToBack(named_by_);
      const Backoff::Duration delay =
          std::max(options_.not_master_delay, backoff_.Next(RandomUnit()));
      return Wait(now, delay, Cause::kNotMaster, named + " is " + answer.detail);
    }
    case RoleAnswer::Kind::kError:
    case RoleAnswer::Kind::kUnreachable:
      break;
  }
  MoveToBack(named_by_);
  std::string detail = answer.detail.empty() ? std::string("unreachable") : answer.detail;
  if (answer.kind == RoleAnswer::Kind::kError) detail = "ROLE failed: " + detail;
  return Wait(now, backoff_.Next(RandomUnit()), Cause::kMasterUnreachable,
              named + " failed: " + detail);
}

std::optional<SentinelResolver::Step> SentinelResolver::OnDeadline(uint64_t attempt,
                                                                   Clock::time_point now) {
  if (attempt != step_.attempt) return std::nullopt;
  switch (step_.action) {
    case Action::kAskSentinel:
      return OnSentinelAnswer(
          attempt, now,
          {MasterAddrAnswer::Kind::kUnreachable,
           {},
           "did not answer within " + std::to_string(options_.sentinel_timeout.count()) + " ms"});
    case Action::kCheckRole:
      return OnRole(
          attempt, now,
          {RoleAnswer::Kind::kUnreachable,
           "no ROLE reply within " + std::to_string(options_.role_timeout.count()) + " ms"});
    case Action::kWait:
      return NewRound(now);
    case Action::kIdle:
    case Action::kUse:
    case Action::kReconnect:
      break;
  }
  return std::nullopt;
}

std::optional<SentinelResolver::Step> SentinelResolver::OnSwitchMaster(
    Clock::time_point now, const SwitchMaster& message) {
  if (message.master_name != options_.master_name) return std::nullopt;
  switch (step_.action) {
    case Action::kIdle:
    case Action::kReconnect:
      return std::nullopt;
    case Action::kUse:
      if (step_.address == message.to) return std::nullopt;
      return Enter(Action::kReconnect, step_.address, {}, Cause::kSwitched,
                   "a sentinel announced that master '" + options_.master_name + "' moved from " +
                       ToString(message.from) + " to " + ToString(message.to));
    case Action::kCheckRole:
      if (step_.address == message.to) return std::nullopt;
      break;
    case Action::kAskSentinel:
    case Action::kWait:
      break;
  }
  backoff_.Reset();
  return NewRound(now);
}

void SentinelResolver::MoveToFront(const NodeAddress& sentinel) {
  auto it = std::find(sentinels_.begin(), sentinels_.end(), sentinel);
  if (it != sentinels_.end()) std::rotate(sentinels_.begin(), it, it + 1);
}

void SentinelResolver::MoveToBack(const NodeAddress& sentinel) {
  auto it = std::find(sentinels_.begin(), sentinels_.end(), sentinel);
  if (it != sentinels_.end()) std::rotate(it, it + 1, sentinels_.end());
}

}  // namespace switchboard::routing
