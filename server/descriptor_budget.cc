#include "server/descriptor_budget.h"

#include <algorithm>

namespace switchboard::server {
namespace {

// For the listeners, the loop, logs, Redis (a cluster's nodes each take one) and key files.
constexpr int64_t kReserved = 64;
// Admin sockets may use half of the reserve: probes must be answered when the public port is full.
constexpr int64_t kAdminShare = kReserved / 2;

// Room between the sessions and the public ceiling for handshakes in progress and plain HTTP
// requests: 5% of the sessions, at least 16.
constexpr int64_t kMinRoom = 16;
int64_t HandshakeRoom(int64_t sessions) { return std::max<int64_t>(kMinRoom, sessions / 20); }

// The most sessions s with s + HandshakeRoom(s) <= ceiling. 20/21 of it is within a step or two
// of the answer (the room rounds down), and the minimum room covers the small ceilings.
int64_t SessionsUnder(int64_t ceiling) {
  int64_t sessions = std::max<int64_t>(1, ceiling * 20 / 21);
  if (ceiling - kMinRoom >= 1 && (ceiling - kMinRoom) / 20 <= kMinRoom) {
    sessions = std::max(sessions, ceiling - kMinRoom);
  }
  while (sessions + 1 + HandshakeRoom(sessions + 1) <= ceiling) ++sessions;
  while (sessions > 1 && sessions + HandshakeRoom(sessions) > ceiling) --sessions;
  return sessions;
}

}  // namespace

int64_t DescriptorsFor(int64_t max_connections) {
  return max_connections + HandshakeRoom(max_connections) + kReserved;
}

DescriptorBudget BudgetDescriptors(int64_t open_file_limit, int64_t max_connections) {
  DescriptorBudget budget;
  budget.public_ceiling = std::max<int64_t>(1, open_file_limit - kReserved);
  budget.admin_ceiling = std::max<int64_t>(1, open_file_limit - kReserved + kAdminShare);
  budget.max_sessions = std::clamp<int64_t>(SessionsUnder(budget.public_ceiling), 1,
                                            std::max<int64_t>(1, max_connections));
  return budget;
}

}  // namespace switchboard::server
