#include "server/rebalancer.h"

#include <utility>

namespace switchboard::server {

Rebalancer::Rebalancer(ShedController::Policy policy, std::string pod_id,
                       routing::Registry& registry, Metrics& metrics, Logger& logger)
    : enabled_(policy.max_rate > 0),
      pod_id_(std::move(pod_id)),
      registry_(registry),
      metrics_(metrics),
      logger_(logger),
      controller_(policy),
      random_(std::random_device{}()) {}

void Rebalancer::Tick(ShedController::Clock::time_point now, size_t open, bool draining,
                      const ShedFunction& shed) {
  if (!enabled_) return;
  const routing::PodLoad own{pod_id_, open, draining};
  Exchange(now, own);
  const ShedController::State before = controller_.state();
  const double random01 = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  const size_t due = controller_.Decide(now, own, latest_, random01);
  if (due > 0) {
    const size_t closed = shed(due);
    metrics_.connections_shed["rebalance"] += closed;
  }
  Report(before);
}

void Rebalancer::Exchange(ShedController::Clock::time_point now, const routing::PodLoad& own) {
  if (asking_) return;  // Redis is slow: one question at a time
  asking_ = true;
  registry_.ExchangeLoads(own, [this, now](std::optional<std::vector<routing::PodLoad>> pods) {
    asking_ = false;
    // Redis unreachable: nothing is shed until it answers again, not even on the last answer.
    latest_ = pods ? ShedController::Snapshot{now, std::move(*pods)} : ShedController::Snapshot{};
  });
}

// One log line when shedding starts and one when it stops, not one per second.
void Rebalancer::Report(ShedController::State before) {
  using State = ShedController::State;
  const State state = controller_.state();
  metrics_.rebalance_average = controller_.average();
  auto active = [](State s) { return s == State::kShedding || s == State::kPacing; };
  if (active(state) == active(before)) return;
  logger_.Info(active(state) ? "rebalancing: shedding connections" : "rebalancing: stopped",
               {{"state", std::string(ShedController::StateName(state))},
                {"average", static_cast<long long>(controller_.average())}});
}

}  // namespace switchboard::server
