#include "server/http_endpoints.h"

#include <gtest/gtest.h>

namespace switchboard::server {
namespace {

ServerHealth Health(bool draining) {
  return ServerHealth{draining, [] { return std::string("metric_a 1\n"); }};
}

TEST(HttpEndpointsTest, HealthIsAlwaysOk) {
  EXPECT_EQ(RespondToGet("/healthz", Health(false)).status, 200);
  EXPECT_EQ(RespondToGet("/healthz", Health(true)).status, 200);
}

TEST(HttpEndpointsTest, ReadinessFollowsDraining) {
  EXPECT_EQ(RespondToGet("/readyz", Health(false)).status, 200);
  EXPECT_EQ(RespondToGet("/readyz", Health(true)).status, 503);
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
