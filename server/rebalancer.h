// Rebalancing on one pod (docs/operations.md, "Scale"): once a second it publishes the pod's
// load through the registry, reads the other pods', and closes as many connections as the
// ShedController allows (shed_controller.h says why and how many). The registry's answer comes
// later than the tick that asked (Redis), so each tick decides on the latest answer, which the
// controller ignores once it is older than a few seconds (Redis away).
#pragma once

#include <chrono>
#include <functional>
#include <random>

#include "routing/registry.h"
#include "server/logger.h"
#include "server/metrics.h"
#include "server/shed_controller.h"

namespace switchboard::server {

class Rebalancer {
 public:
  // `shed(n)` closes n connections, as it chooses, and returns how many it closed.
  using ShedFunction = std::function<size_t(size_t n)>;

  // With `policy.max_rate` 0 it publishes and reads nothing and never sheds. `registry`,
  // `metrics` and `logger` are not owned and must outlive it; so must the registry's callbacks,
  // which the registry stops making when it is closed.
  Rebalancer(ShedController::Policy policy, std::string pod_id, routing::Registry& registry,
             Metrics& metrics, Logger& logger);

  // Called about once a second. `open` is this pod's connections not being closed; `draining`
  // whether it drains (others then stop shedding too).
  void Tick(ShedController::Clock::time_point now, size_t open, bool draining,
            const ShedFunction& shed);

 private:
  void Exchange(ShedController::Clock::time_point now, const routing::PodLoad& own);
  void Report(ShedController::State before);

  const bool enabled_;
  const std::string pod_id_;
  routing::Registry& registry_;
  Metrics& metrics_;
  Logger& logger_;
  ShedController controller_;
  ShedController::Snapshot latest_;  // the registry's last answer
  bool asking_ = false;              // an exchange is on its way
  std::mt19937 random_;
};

}  // namespace switchboard::server
