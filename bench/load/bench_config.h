// The load generator's command line: what to run, against what, for how long.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "bench/load/wire_format.h"

namespace switchboard::bench {

// relay: pairs run signaling sessions (offer, answer, 8 candidates each way).
// latency: pairs send fixed-size messages to each other at a fixed total rate.
// connections: open many connections, register them, hold them idle with heartbeats.
// cross-pod: relay or latency (see `workload`) with the two peers of each pair on different
// servers.
enum class Scenario { kRelay, kLatency, kConnections, kCrossPod };

struct ServerAddress {
  std::string host;
  int port = 0;
};

struct BenchConfig {
  Scenario scenario = Scenario::kRelay;
  Scenario workload = Scenario::kRelay;  // what cross-pod runs: kRelay or kLatency
  Dialect dialect = Dialect::kNative;
  std::vector<ServerAddress> servers;  // at least one; cross-pod needs two
  PeerJsMount peerjs;
  int pairs = 100;
  int connections = 1000;
  double rate = 0;          // messages per second in all; 0: closed loop (relay only)
  int message_bytes = 256;  // latency: size of each message
  double duration_seconds = 10;
  double warmup_seconds = 1;
  double drain_seconds = 3;       // after the last send, how long to wait for what is in flight
  int sources = 0;                // 127.a.b.x source addresses; 0: one per 10,000 connections
  int connect_concurrency = 256;  // handshakes in flight at once
  double heartbeat_seconds = 10;
  int threads = 1;
  std::vector<pid_t> server_pids;  // whose CPU and RSS to report
  std::vector<pid_t> redis_pids;  // whose CPU to report, each and summed
  std::string json_path;  // where to write the result; empty: nowhere
  std::string id_prefix;  // prefix of every peer id; empty: a random one
  int source_subnet = 0;  // sources are 127.<subnet/256>.<subnet%256>.x; 0: a random subnet
  bool progress = true;   // a line a second on stderr
};

// The scenario's name ("relay", ...).
std::string_view ScenarioName(Scenario scenario);

// Parses argv (without argv[0]). On success fills `config` and returns true. On a bad flag or
// value, or a combination that cannot run, sets `error` to a message for the user and returns
// false. `--help` sets `help` and returns true.
bool ParseBenchArgs(const std::vector<std::string>& args, BenchConfig* config, bool* help,
                    std::string* error);

// The --help text.
std::string BenchUsage();

}  // namespace switchboard::bench
