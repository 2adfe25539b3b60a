// What one run of the load generator measured, and how it is reported: a JSON file for scripts
// (bench/compare.mjs reads it) and a one-line summary for people.
#pragma once

#include <string>
#include <vector>

#include "bench/load/bench_config.h"
#include "bench/load/latency_recorder.h"

namespace switchboard::bench {

struct BenchResult {
  std::string scenario;  // "relay", ..., "cross-pod/relay"
  std::string dialect;
  int connections = 0;
  double offered_rate = 0;  // messages per second asked for; 0: closed loop

  // Connecting (every scenario): handshake and registration of every connection.
  long long ready = 0;
  long long connect_failures = 0;
  double connect_seconds = 0;
  double connections_per_second = 0;
  double server_cpu_us_per_connection = 0;  // the servers' CPU while connecting, per connection

  // The measured window.
  double window_seconds = 0;
  long long window_received = 0;
  double messages_per_second = 0;
  LatencyRecorder latencies;

  // Whole run, from the first send to the end of the drain: sent = received + error notices +
  // missing, where missing counts what neither arrived nor was reported.
  long long sent = 0;
  long long received = 0;
  long long error_notices = 0;
  long long missing = 0;
  long long order_violations = 0;
  long long disconnects = 0;
  long long other_frames = 0;
  long long heartbeats = 0;
  long long pongs = 0;

  // CPU in the measured window, in seconds, and per relayed message, in microseconds.
  double generator_cpu_seconds = 0;
  double generator_cpu_cores = 0;  // generator CPU seconds per second of the window
  bool generator_bound = false;    // the generator, not the server, was the limit
  double server_cpu_seconds = 0;   // every --server-pid together
  double server_cpu_us_per_message = 0;
  double server_cpu_cores = 0;
  bool has_server = false;
  double redis_cpu_seconds = 0;               // every --redis-pid together
  std::vector<double> redis_cpu_seconds_each;  // in --redis-pid order
  bool has_redis = false;

  // Server memory (every --server-pid together): before connecting, and with every connection
  // open and idle.
  long long server_rss_before = 0;
  long long server_rss_connected = 0;
  double server_rss_per_connection = 0;

  std::string error;  // why the run could not be completed; empty when it was
};

// The result as a JSON document (latencies in microseconds).
std::string ResultToJson(const BenchResult& result);

// One line for people: throughput, CPU per message, latencies, and whether the counts add up.
std::string SummaryLine(const BenchResult& result);

}  // namespace switchboard::bench
