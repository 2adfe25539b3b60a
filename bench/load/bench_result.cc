#include "bench/load/bench_result.h"

#include <json/json.h>

#include <cstdio>

namespace switchboard::bench {

namespace {

double Micros(int64_t nanoseconds) { return static_cast<double>(nanoseconds) / 1000.0; }

Json::Value LatencyJson(const LatencyRecorder& latencies) {
  Json::Value json;
  json["count"] = static_cast<Json::UInt64>(latencies.count());
  json["p50"] = Micros(latencies.Quantile(0.5));
  json["p90"] = Micros(latencies.Quantile(0.9));
  json["p99"] = Micros(latencies.Quantile(0.99));
  json["p999"] = Micros(latencies.Quantile(0.999));
  json["max"] = Micros(latencies.max());
  return json;
}

}  // namespace

std::string ResultToJson(const BenchResult& r) {
  Json::Value json;
  json["scenario"] = r.scenario;
  json["dialect"] = r.dialect;
  json["connections"] = Json::Int64(r.connections);
  json["offered_rate"] = r.offered_rate;
  json["ready"] = Json::Int64(r.ready);
  json["connect_failures"] = Json::Int64(r.connect_failures);
  json["connect_seconds"] = r.connect_seconds;
  json["connections_per_second"] = r.connections_per_second;
  json["window_seconds"] = r.window_seconds;
  json["window_received"] = Json::Int64(r.window_received);
  json["messages_per_second"] = r.messages_per_second;
  json["latency_us"] = LatencyJson(r.latencies);
  json["sent"] = Json::Int64(r.sent);
  json["received"] = Json::Int64(r.received);
  json["error_notices"] = Json::Int64(r.error_notices);
  json["missing"] = Json::Int64(r.missing);
  json["order_violations"] = Json::Int64(r.order_violations);
  json["disconnects"] = Json::Int64(r.disconnects);
  json["other_frames"] = Json::Int64(r.other_frames);
  json["heartbeats"] = Json::Int64(r.heartbeats);
  json["pongs"] = Json::Int64(r.pongs);
  json["generator_cpu_seconds"] = r.generator_cpu_seconds;
  json["generator_cpu_cores"] = r.generator_cpu_cores;
  json["generator_bound"] = r.generator_bound;
  if (r.has_server) {
    json["server_cpu_seconds"] = r.server_cpu_seconds;
    json["server_cpu_cores"] = r.server_cpu_cores;
    json["server_cpu_us_per_message"] = r.server_cpu_us_per_message;
    json["server_rss_before"] = Json::Int64(r.server_rss_before);
    json["server_rss_connected"] = Json::Int64(r.server_rss_connected);
    json["server_rss_per_connection"] = r.server_rss_per_connection;
    json["server_cpu_us_per_connection"] = r.server_cpu_us_per_connection;
  }
  if (r.has_redis) {
    json["redis_cpu_seconds"] = r.redis_cpu_seconds;
    for (double seconds : r.redis_cpu_seconds_each) json["redis_cpu_seconds_each"].append(seconds);
  }
  if (!r.error.empty()) json["error"] = r.error;
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "  ";
  return Json::writeString(builder, json) + "\n";
}

std::string SummaryLine(const BenchResult& r) {
  char line[1024];
  int n = std::snprintf(line, sizeof(line), "%s %s: %d connections, ", r.scenario.c_str(),
                        r.dialect.c_str(), r.connections);
  auto append = [&](const char* format, auto... values) {
    if (n >= 0 && static_cast<size_t>(n) < sizeof(line)) {
      n += std::snprintf(line + n, sizeof(line) - static_cast<size_t>(n), format, values...);
    }
  };
  append("%.0f connected/s", r.connections_per_second);
  if (r.connect_failures > 0) append(" (%lld failed)", r.connect_failures);
  if (r.scenario == "connections") {
    if (r.has_server) {
      append(", server %.0f us CPU and %.0f B RSS per connection", r.server_cpu_us_per_connection,
             r.server_rss_per_connection);
    }
  } else {
    append(", %.0f msg/s", r.messages_per_second);
    if (r.has_server) append(", server %.2f us/msg", r.server_cpu_us_per_message);
    append(", latency p50 %.0f p99 %.0f p99.9 %.0f max %.0f us", Micros(r.latencies.Quantile(0.5)),
           Micros(r.latencies.Quantile(0.99)), Micros(r.latencies.Quantile(0.999)),
           Micros(r.latencies.max()));
    append(", sent %lld = received %lld + errors %lld + missing %lld", r.sent, r.received,
           r.error_notices, r.missing);
    if (r.order_violations > 0) append(", %lld OUT OF ORDER", r.order_violations);
  }
  append(", generator %.0f%% CPU%s", 100 * r.generator_cpu_cores,
         r.generator_bound ? " (generator-bound)" : "");
  if (!r.error.empty()) append(", ERROR: %s", r.error.c_str());
  return line;
}

}  // namespace switchboard::bench
