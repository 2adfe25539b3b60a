// Limits per client address (client_address.h): how many connections it holds, and how fast it
// may open new ones. One host, or one botnet node, must not take all of a pod's --max-connections
// or keep its handshakes (and their token checks) busy. The default cap is sized for
// carrier-grade NAT, where hundreds of viewers share one address.
//
// The limits are this pod's: each pod counts only its own connections (the ingress in front adds
// its own limits). Pure: time is passed in.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::server {

class AddressLimits {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    int max_connections = 200;     // per address, at once
    double handshake_rate = 20;    // per address, per second
    double handshake_burst = 100;  // per address
  };

  enum class Verdict { kAdmit, kTooManyConnections, kTooManyHandshakes };

  explicit AddressLimits(Options options) : options_(options) {}

  // A WebSocket handshake from `address` at `now`. kAdmit spends one handshake of the address's
  // budget; a refusal spends none. The connection is counted once it opens (Opened).
  Verdict AdmitHandshake(std::string_view address, Clock::time_point now);

  // A connection from `address` opened or closed. Each Opened is followed by one Closed.
  void Opened(std::string_view address, Clock::time_point now);
  void Closed(std::string_view address);

  // Forgets the addresses that hold no connection and whose handshake budget is full again, so
  // that the table holds only the addresses seen lately. Call about once a second.
  void Sweep(Clock::time_point now);

  // Addresses tracked now.
  size_t tracked() const { return addresses_.size(); }

 private:
  struct Address {
    int connections = 0;
    double handshakes_left = 0;  // as of refilled_at
    Clock::time_point refilled_at;
  };

  // The address's entry, created with a full budget.
  Address& Find(std::string_view address, Clock::time_point now);
  void Refill(Address& entry, Clock::time_point now) const;

  Options options_;
  std::unordered_map<std::string, Address> addresses_;
};

}  // namespace switchboard::server
