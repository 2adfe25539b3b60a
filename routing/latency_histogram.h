// A latency histogram with fixed buckets, rendered in Prometheus' text format.
//
// It lives in routing/ because both the server (relay latency) and the Redis backend (command
// latency) keep one, and routing is the lower of the two layers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::routing {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in seconds: 50 µs to 1 s, roughly ×2.5 apart.
  static constexpr std::array<double, 12> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0};

  void Observe(double seconds);

  // How many were observed.
  uint64_t count() const { return count_; }

  // Appends the _bucket, _sum and _count lines of metric `name` to `out`.
  void Render(std::string_view name, std::string* out) const;

 private:
  std::array<uint64_t, kBounds.size()> buckets_{};  // not cumulative: each counts its own range
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Appends one sample line: name{labels} value.
void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value);

}  // namespace switchboard::routing
