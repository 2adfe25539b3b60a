#include "server/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::server {
namespace {

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, RendersServerAndRoutingCounters) {
  Metrics metrics;
  metrics.connections_open = 3;
  metrics.bytes_received = 1000;
  Metrics::Increment(metrics.errors, "bad-message");
  Metrics::Increment(metrics.errors, "bad-message");
  Metrics::Increment(metrics.handshakes_refused, "bad-peer-id");
  routing::RoutingStats routing;
  routing.relayed_local = 7;
  routing.relayed_remote = 2;
  routing.queued = 4;
  routing.expired = 1;
  const std::string text = metrics.Render(routing);
  EXPECT_TRUE(Contains(text, "# TYPE switchboard_connections_open gauge")) << text;
  EXPECT_TRUE(Contains(text, "switchboard_connections_open 3"));
  EXPECT_TRUE(Contains(text, "switchboard_bytes_received_total 1000"));
  EXPECT_TRUE(Contains(text, "switchboard_messages_relayed_total{path=\"local\"} 7"));
  EXPECT_TRUE(Contains(text, "switchboard_messages_relayed_total{path=\"remote\"} 2"));
  EXPECT_TRUE(Contains(text, "switchboard_messages_queued_total 4"));
  EXPECT_TRUE(Contains(text, "switchboard_messages_expired_total 1"));
  EXPECT_TRUE(Contains(text, "switchboard_errors_total{code=\"bad-message\"} 2"));
  EXPECT_TRUE(Contains(text, "switchboard_handshakes_refused_total{reason=\"bad-peer-id\"} 1"));
  EXPECT_TRUE(Contains(text, "# TYPE switchboard_relay_latency_seconds histogram"));
  EXPECT_TRUE(Contains(text, "switchboard_draining 0"));
}

}  // namespace
}  // namespace switchboard::server
