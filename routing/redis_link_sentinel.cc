// RedisLink with Redis Sentinel: each connection attempt carries out the steps of a
// SentinelResolver (ask a sentinel, check ROLE at the address it gave, wait, use it), and only
// then connects the node, as a standalone server. What the resolver decides is explained in
// sentinel_resolver.h; this file only does it. A step is started from a timer, never from the
// callback of the connection of the step before, so that connection can be dropped there.
//
// Also here: the subscription probe of every mode, and the -READONLY answer that says the master
// was demoted under the link.
#include <utility>

#include "routing/redis_link.h"

namespace switchboard::routing {

namespace {

RoleAnswer::Kind RoleKind(bool connected) {
  return connected ? RoleAnswer::Kind::kError : RoleAnswer::Kind::kUnreachable;
}

}  // namespace

void RedisLink::CarrySentinelStep(const SentinelResolver::Step& step) {
  using Action = SentinelResolver::Action;
  uv_timer_stop(&sentinel_deadline_timer_);
  if (probe_) probe_->Drop();
  if (closing_) return;
  if (step.action == Action::kAskSentinel || step.action == Action::kCheckRole ||
      step.action == Action::kWait) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(step.deadline - Clock::now());
    uv_timer_start(
        &sentinel_deadline_timer_,
        [](uv_timer_t* timer) { static_cast<RedisLink*>(timer->data)->OnSentinelDeadline(); },
        static_cast<uint64_t>(std::max<int64_t>(0, left.count())), 0);
  }
  switch (step.action) {
    case Action::kIdle:
      return;
    case Action::kAskSentinel:
      AskSentinel(step);
      return;
    case Action::kCheckRole:
      CheckRole(step);
      return;
    case Action::kWait:
      // Once per cause while it lasts, as any failure to connect (OnLost).
      if (step.reason != last_failure_ && events_.log) {
        events_.log(true, "redis unreachable", step.reason);
      }
      last_failure_ = step.reason;
      return;
    case Action::kUse: {
      RedisAddress master = options_.address;
      master.host = step.address.host;
      master.port = step.address.port;
      nodes_.push_back(MakeNode(std::move(master)));
      nodes_.back()->Connect(options_.channels);
      return;
    }
    case Action::kReconnect:
      OnLost(step.reason);
      return;
  }
}

void RedisLink::AskSentinel(const SentinelResolver::Step& step) {
  RedisAddress sentinel{step.address.host, step.address.port, "", options_.sentinel->password, 0};
  const uint64_t attempt = step.attempt;
  auto lost = [this, attempt](std::string_view why) {
    DeferSentinelStep(resolver_->OnSentinelAnswer(
        attempt, Clock::now(),
        MasterAddrAnswer{MasterAddrAnswer::Kind::kUnreachable, {}, std::string(why)}));
  };
  probe_ = std::make_unique<RedisConnection>(
      loop_, std::move(sentinel), "sentinel",
      RedisConnection::Events{.connected =
                                  [this, attempt] {
                                    probe_->Command(
                                        {"SENTINEL", "get-master-addr-by-name",
                                         options_.sentinel->master_name},
                                        [this, attempt](redisReply* reply) {
                                          if (reply == nullptr) return;  // lost: reported as such
                                          DeferSentinelStep(resolver_->OnSentinelAnswer(
                                              attempt, Clock::now(), ParseMasterAddrReply(reply)));
                                        });
                                  },
                              .lost = lost});
  probe_->Connect();
}

// ROLE on a connection of its own: the node is made only once the address is known to be the
// master's.
void RedisLink::CheckRole(const SentinelResolver::Step& step) {
  RedisAddress master = options_.address;
  master.host = step.address.host;
  master.port = step.address.port;
  const uint64_t attempt = step.attempt;
  auto connected = std::make_shared<bool>(false);
  probe_ = std::make_unique<RedisConnection>(
      loop_, std::move(master), "role",
      RedisConnection::Events{
          .connected =
              [this, attempt, connected] {
                *connected = true;
                probe_->Command({"ROLE"}, [this, attempt](redisReply* reply) {
                  if (reply == nullptr) return;
                  DeferSentinelStep(
                      resolver_->OnRole(attempt, Clock::now(), ParseRoleReply(reply)));
                });
              },
          .lost =
              [this, attempt, connected](std::string_view why) {
                DeferSentinelStep(resolver_->OnRole(
                    attempt, Clock::now(), RoleAnswer{RoleKind(*connected), std::string(why)}));
              }});
  probe_->Connect();
}

void RedisLink::DeferSentinelStep(std::optional<SentinelResolver::Step> step) {
  if (!step || closing_) return;  // a report for a step that is over
  deferred_step_ = std::move(step);
  uv_timer_start(
      &sentinel_defer_timer_,
      [](uv_timer_t* timer) {
        auto* link = static_cast<RedisLink*>(timer->data);
        if (!link->deferred_step_) return;
        SentinelResolver::Step next = std::move(*link->deferred_step_);
        link->deferred_step_.reset();
        link->CarrySentinelStep(next);
      },
      0, 0);
}

void RedisLink::OnSentinelDeadline() {
  const SentinelResolver::Step& step = resolver_->step();
  if (std::optional<SentinelResolver::Step> next =
          resolver_->OnDeadline(step.attempt, Clock::now())) {
    CarrySentinelStep(*next);
  }
}

void RedisLink::WatchSentinels() {
  if (closing_) return;
  const std::vector<NodeAddress>& sentinels = resolver_->sentinels();
  // The first watch goes to the front of the list, each later one to the next sentinel.
  const NodeAddress& at = sentinels[watched_++ % sentinels.size()];
  RedisAddress sentinel{at.host, at.port, "", options_.sentinel->password, 0};
  sentinel_watch_ = std::make_unique<RedisConnection>(
      loop_, std::move(sentinel), "sentinel-watch",
      RedisConnection::Events{.connected =
                                  [this] {
                                    sentinel_watch_->Subscribe(
                                        "SUBSCRIBE", {"+switch-master"},
                                        [this](std::string_view kind, std::string_view,
                                               std::string_view payload) {
                                          if (kind == "message") OnSwitchMaster(payload);
                                        });
                                  },
                              .lost =
                                  [this](std::string_view) {
                                    // Only an accelerator: retried quietly, never waited for.
                                    uv_timer_start(
                                        &sentinel_watch_timer_,
                                        [](uv_timer_t* timer) {
                                          static_cast<RedisLink*>(timer->data)->WatchSentinels();
                                        },
                                        1000, 0);
                                  }});
  sentinel_watch_->Connect();
}

void RedisLink::OnSwitchMaster(std::string_view payload) {
  std::string error;
  const std::optional<SwitchMaster> message = ParseSwitchMaster(payload, &error);
  if (!message || message->master_name != options_.sentinel->master_name) return;
  if (events_.log) {
    events_.log(true, "a sentinel announced a new master",
                ToString(message->from) + " -> " + ToString(message->to));
  }
  DeferSentinelStep(resolver_->OnSwitchMaster(Clock::now(), *message));
}

bool RedisLink::IsDemotion(std::string_view error) const {
  return options_.sentinel && error.starts_with("READONLY");
}

void RedisLink::ProbeSubscription(Clock::time_point now) {
  SubscriptionProbe::Decision decision = subscription_probe_.Tick(now);
  if (decision.action == SubscriptionProbe::Action::kReconnect) {
    OnLost(decision.reason);
    return;
  }
  if (decision.action != SubscriptionProbe::Action::kSend || options_.channels.empty()) return;
  const std::string& channel = options_.channels[decision.channel % options_.channels.size()];
  Command({publish_verb(), channel, decision.message},
          [this, message = decision.message](redisReply* reply) {
            if (closing_ || reply == nullptr || reply->type != REDIS_REPLY_INTEGER) return;
            const SubscriptionProbe::Decision after =
                subscription_probe_.OnPublished(message, reply->integer);
            if (after.action == SubscriptionProbe::Action::kReconnect) OnLost(after.reason);
          });
}

}  // namespace switchboard::routing
