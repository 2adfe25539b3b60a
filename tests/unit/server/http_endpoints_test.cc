#include "server/http_endpoints.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

ServerHealth Health(bool draining, bool nearly_full = false) {
  return ServerHealth{draining, nearly_full, [] { return std::string("metric_a 1\n"); }};
}

TEST(HttpEndpointsTest, HealthIsAlwaysOk) {
  EXPECT_EQ(RespondToGet("/healthz", Health(false)).status, 200);
  EXPECT_EQ(RespondToGet("/healthz", Health(true)).status, 200);
}

TEST(HttpEndpointsTest, ReadinessFollowsDraining) {
  EXPECT_EQ(RespondToGet("/readyz", Health(false)).status, 200);
  EXPECT_EQ(RespondToGet("/readyz", Health(true)).status, 503);
}

TEST(HttpEndpointsTest, ReadinessFailsWhenNearlyFull) {
  EXPECT_EQ(RespondToGet("/readyz", Health(false, true)).status, 503);
  EXPECT_EQ(RespondToGet("/readyz", Health(false, true)).body, "nearly full\n");
  EXPECT_EQ(RespondToGet("/healthz", Health(false, true)).status, 200);
}

TEST(HttpEndpointsTest, NearlyFullIsNinetyFivePercent) {
  EXPECT_FALSE(IsNearlyFull(18999, 20000));
  EXPECT_TRUE(IsNearlyFull(19000, 20000));
  EXPECT_TRUE(IsNearlyFull(20000, 20000));
  EXPECT_FALSE(IsNearlyFull(15, 16));  // 5% of 16 rounds down to nothing: full is nearly full
  EXPECT_TRUE(IsNearlyFull(16, 16));
}

TEST(HttpEndpointsTest, MetricsUsePrometheusTextFormat) {
  const HttpResponse response = RespondToGet("/metrics", Health(false));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "metric_a 1\n");
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(HttpEndpointsTest, UnknownPathIsNotFound) {
  EXPECT_EQ(RespondToGet("/", Health(false)).status, 404);
  EXPECT_EQ(RespondToGet("/metricsx", Health(false)).status, 404);
}

}  // namespace
}  // namespace switchboard::server
