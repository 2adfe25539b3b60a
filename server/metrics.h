// The server's Prometheus metrics, rendered in the text exposition format for GET /metrics.
//
// Counters are plain integers on the event-loop thread, which is the only thread: no atomics,
// no registry of named objects, nothing to look up on the hot path.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "routing/registry.h"

namespace switchboard::server {

// A histogram with fixed buckets, in seconds.
class Histogram {
 public:
  // Upper bounds of the buckets: 50 µs to 1 s, roughly ×2.5 apart.
  static constexpr std::array<double, 12> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0};

  void Observe(double seconds);

  // Appends the _bucket, _sum and _count lines of metric `name` to `out`.
  void Render(std::string_view name, std::string* out) const;

 private:
  std::array<uint64_t, kBounds.size()> buckets_{};  // not cumulative: each counts its own range
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Everything the server counts. Fields are public: they are counters, incremented in place.
struct Metrics {
  int64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t messages_received = 0;
  bool draining = false;
  std::map<std::string, uint64_t, std::less<>> errors;              // by error code
  std::map<std::string, uint64_t, std::less<>> handshakes_refused;  // by reason
  std::map<std::string, uint64_t, std::less<>> closes;              // by close code
  Histogram relay_latency;  // from accepting a frame to writing it to the target's socket

  // Adds one to `map[key]`.
  static void Increment(std::map<std::string, uint64_t, std::less<>>& map, std::string_view key);

  // The whole exposition text, with the routing backend's counters.
  std::string Render(const routing::RoutingStats& routing) const;
};

}  // namespace switchboard::server
