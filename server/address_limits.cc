#include "server/address_limits.h"

#include <algorithm>
#include <iterator>

namespace switchboard::server {

AddressLimits::Address& AddressLimits::Find(std::string_view address, Clock::time_point now) {
  auto [it, added] = addresses_.try_emplace(std::string(address));
  if (added) {
    it->second.handshakes_left = options_.handshake_burst;
    it->second.refilled_at = now;
  }
  return it->second;
}

void AddressLimits::Refill(Address& entry, Clock::time_point now) const {
  const std::chrono::duration<double> elapsed = now - entry.refilled_at;
  if (elapsed.count() <= 0) return;
  entry.handshakes_left = std::min(
      options_.handshake_burst, entry.handshakes_left + elapsed.count() * options_.handshake_rate);
  entry.refilled_at = now;
}

AddressLimits::Verdict AddressLimits::AdmitHandshake(std::string_view address,
                                                     Clock::time_point now) {
  Address& entry = Find(address, now);
  if (entry.connections >= options_.max_connections) return Verdict::kTooManyConnections;
  Refill(entry, now);
  if (entry.handshakes_left < 1) return Verdict::kTooManyHandshakes;
  entry.handshakes_left -= 1;
  return Verdict::kAdmit;
}

void AddressLimits::Opened(std::string_view address, Clock::time_point now) {
  Find(address, now).connections += 1;
}

void AddressLimits::Closed(std::string_view address) {
  const auto it = addresses_.find(std::string(address));
  if (it != addresses_.end() && it->second.connections > 0) it->second.connections -= 1;
}

void AddressLimits::Sweep(Clock::time_point now) {
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    Address& entry = it->second;
    if (entry.connections == 0) Refill(entry, now);
    const bool idle = entry.connections == 0 && entry.handshakes_left >= options_.handshake_burst;
    it = idle ? addresses_.erase(it) : std::next(it);
  }
}

}  // namespace switchboard::server
