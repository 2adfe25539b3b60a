// The server's Prometheus metrics, rendered in the text exposition format for GET /metrics.
//
// Counters are plain integers on the event-loop thread, which is the only thread: no atomics,
// no registry of named objects, nothing to look up on the hot path.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "routing/latency_histogram.h"
#include "routing/registry.h"

namespace switchboard::server {

// Everything the server counts. Fields are public: they are counters, incremented in place.
struct Metrics {
  int64_t connections_open = 0;
  int64_t connections_max = 0;  // --max-connections
  uint64_t connections_accepted = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  uint64_t sockets_refused = 0;     // closed as accepted: the descriptor budget was spent
  uint64_t frames_handed_back = 0;  // relayed to a connection that closed before writing them
  bool draining = false;
  std::map<std::string, uint64_t, std::less<>> errors;              // by error code
  std::map<std::string, uint64_t, std::less<>> handshakes_refused;  // by reason
  std::map<std::string, uint64_t, std::less<>> closes;              // by close code
  std::map<std::string, uint64_t, std::less<>> connections_shed;    // by reason: rebalance
  double rebalance_average = 0;  // the mean connections per pod the rebalancer last saw
  std::map<std::string, uint64_t, std::less<>> tls_reloads;        // by result: loaded, kept-old
  std::map<std::string, uint64_t, std::less<>> token_key_reloads;  // by result, with --auth-*
  int64_t tls_expires_at = 0;  // the serving certificate's notAfter; 0 without TLS
  routing::LatencyHistogram
      relay_latency;  // from accepting a frame to writing it to the target's socket

  // Adds one to `map[key]`.
  static void Increment(std::map<std::string, uint64_t, std::less<>>& map, std::string_view key);

  // The whole exposition text, with the routing backend's counters.
  std::string Render(const routing::RoutingStats& routing) const;
};

}  // namespace switchboard::server
