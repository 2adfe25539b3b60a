#include "routing/latency_histogram.h"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::routing {
namespace {

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(LatencyHistogramTest, BucketsAreCumulativeWithSumAndCount) {
  LatencyHistogram histogram;
  histogram.Observe(0.00003);  // first bucket
  histogram.Observe(0.0007);   // le 0.001
  histogram.Observe(5);        // only +Inf
  std::string out;
  histogram.Render("h", &out);
  EXPECT_TRUE(Contains(out, "h_bucket{le=\"5e-05\"} 1")) << out;
  EXPECT_TRUE(Contains(out, "h_bucket{le=\"0.0005\"} 1")) << out;
  EXPECT_TRUE(Contains(out, "h_bucket{le=\"0.001\"} 2")) << out;
  EXPECT_TRUE(Contains(out, "h_bucket{le=\"1\"} 2")) << out;
  EXPECT_TRUE(Contains(out, "h_bucket{le=\"+Inf\"} 3")) << out;
  EXPECT_TRUE(Contains(out, "h_count 3")) << out;
  const size_t sum_at = out.find("h_sum ");
  ASSERT_NE(sum_at, std::string::npos) << out;
  EXPECT_NEAR(std::stod(out.substr(sum_at + 6)), 5.00073, 1e-12);
}

}  // namespace
}  // namespace switchboard::routing
