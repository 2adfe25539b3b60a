#include "routing/latency_histogram.h"

#include <cstdio>

namespace switchboard::routing {

void LatencyHistogram::Observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++buckets_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

void LatencyHistogram::Render(std::string_view name, std::string* out) const {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i];
    char bound[32];
    snprintf(bound, sizeof(bound), "le=\"%g\"", kBounds[i]);
    AppendSample(out, bucket, bound, static_cast<double>(cumulative));
  }
  AppendSample(out, bucket, "le=\"+Inf\"", static_cast<double>(count_));
  AppendSample(out, std::string(name) + "_sum", "", sum_);
  AppendSample(out, std::string(name) + "_count", "", static_cast<double>(count_));
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value) {
  char number[32];
  snprintf(number, sizeof(number), "%.17g", value);
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(number).append("\n");
}

}  // namespace switchboard::routing
