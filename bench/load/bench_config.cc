#include "bench/load/bench_config.h"

#include <charconv>
#include <cmath>

namespace switchboard::bench {

namespace {

std::optional<Scenario> ParseScenario(std::string_view name) {
  if (name == "relay") return Scenario::kRelay;
  if (name == "latency") return Scenario::kLatency;
  if (name == "connections") return Scenario::kConnections;
  if (name == "cross-pod") return Scenario::kCrossPod;
  return std::nullopt;
}

bool ParseInt(std::string_view text, long long low, long long high, long long* out) {
  long long value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return false;
  if (value < low || value > high) return false;
  *out = value;
  return true;
}

bool ParseSeconds(std::string_view text, double low, double* out) {
  try {
    size_t used = 0;
    const double value = std::stod(std::string(text), &used);
    if (used != text.size() || !std::isfinite(value) || value < low) return false;
    *out = value;
    return true;
  } catch (...) {
    return false;
  }
}

bool ParseServer(std::string_view text, ServerAddress* out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  long long port = 0;
  if (!ParseInt(text.substr(colon + 1), 1, 65535, &port)) return false;
  out->host = std::string(text.substr(0, colon));
  out->port = static_cast<int>(port);
  return true;
}

// Checks what no single flag can: the combination.
bool Validate(BenchConfig* config, std::string* error) {
  if (config->servers.empty()) config->servers.push_back({"127.0.0.1", 8080});
  const bool cross_pod = config->scenario == Scenario::kCrossPod;
  if (cross_pod && config->servers.size() < 2) {
    *error = "cross-pod needs two --server addresses, one per pod";
    return false;
  }
  const Scenario workload = cross_pod ? config->workload : config->scenario;
  if (workload == Scenario::kLatency && config->rate <= 0) {
    *error = "latency needs --rate (messages per second, above 0)";
    return false;
  }
  if (cross_pod && config->dialect == Dialect::kRaw) {
    *error = "the raw relay is one process: it cannot run cross-pod";
    return false;
  }
  const size_t minimum = MinimumRelayFrameBytes(config->dialect, 48);
  if (workload == Scenario::kLatency && static_cast<size_t>(config->message_bytes) < minimum) {
    *error = "--message-bytes must be at least " + std::to_string(minimum);
    return false;
  }
  return true;
}

}  // namespace

std::string_view ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kRelay:
      return "relay";
    case Scenario::kLatency:
      return "latency";
    case Scenario::kConnections:
      return "connections";
    case Scenario::kCrossPod:
      return "cross-pod";
  }
  return "relay";
}

bool ParseBenchArgs(const std::vector<std::string>& args, BenchConfig* config, bool* help,
                    std::string* error) {
  *help = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      *help = true;
      return true;
    }
    if (flag == "--no-progress") {
      config->progress = false;
      continue;
    }
    if (i + 1 >= args.size()) {
      *error = flag + " needs a value (see --help)";
      return false;
    }
    const std::string& value = args[++i];
    long long number = 0;
    bool ok = true;
    if (flag == "--scenario") {
      const auto scenario = ParseScenario(value);
      ok = scenario.has_value();
      if (ok) config->scenario = *scenario;
    } else if (flag == "--workload") {
      const auto workload = ParseScenario(value);
      ok = workload == Scenario::kRelay || workload == Scenario::kLatency;
      if (ok) config->workload = *workload;
    } else if (flag == "--dialect") {
      const auto dialect = ParseDialect(value);
      ok = dialect.has_value();
      if (ok) config->dialect = *dialect;
    } else if (flag == "--server") {
      ServerAddress address;
      ok = ParseServer(value, &address);
      if (ok) config->servers.push_back(address);
    } else if (flag == "--peerjs-path") {
      ok = value.starts_with('/') && value.ends_with('/');
      config->peerjs.path = value;
    } else if (flag == "--peerjs-key") {
      config->peerjs.key = value;
    } else if (flag == "--pairs") {
      ok = ParseInt(value, 1, 1000000, &number);
      config->pairs = static_cast<int>(number);
    } else if (flag == "--connections") {
      ok = ParseInt(value, 1, 1000000, &number);
      config->connections = static_cast<int>(number);
    } else if (flag == "--rate") {
      ok = ParseSeconds(value, 0, &config->rate);
    } else if (flag == "--message-bytes") {
      ok = ParseInt(value, 1, 60000, &number);
      config->message_bytes = static_cast<int>(number);
    } else if (flag == "--duration") {
      ok = ParseSeconds(value, 0.1, &config->duration_seconds);
    } else if (flag == "--warmup") {
      ok = ParseSeconds(value, 0, &config->warmup_seconds);
    } else if (flag == "--drain") {
      ok = ParseSeconds(value, 0, &config->drain_seconds);
    } else if (flag == "--sources") {
      ok = ParseInt(value, 0, 250, &number);
      config->sources = static_cast<int>(number);
    } else if (flag == "--connect-concurrency") {
      ok = ParseInt(value, 1, 100000, &number);
      config->connect_concurrency = static_cast<int>(number);
    } else if (flag == "--heartbeat-seconds") {
      ok = ParseSeconds(value, 0.1, &config->heartbeat_seconds);
    } else if (flag == "--threads") {
      ok = ParseInt(value, 1, 64, &number);
      config->threads = static_cast<int>(number);
    } else if (flag == "--server-pid") {
      ok = ParseInt(value, 1, 1 << 30, &number);
      config->server_pids.push_back(static_cast<pid_t>(number));
    } else if (flag == "--redis-pid") {
      ok = ParseInt(value, 1, 1 << 30, &number);
      config->redis_pids.push_back(static_cast<pid_t>(number));
    } else if (flag == "--json") {
      config->json_path = value;
    } else if (flag == "--id-prefix") {
      ok = !value.empty() && value.size() <= 16 &&
           value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos;
      config->id_prefix = value;
    } else {
      *error = "unknown flag " + flag + " (see --help)";
      return false;
    }
    if (!ok) {
      *error = "bad value for " + flag + ": '" + value + "' (see --help)";
      return false;
    }
  }
  return Validate(config, error);
}

std::string BenchUsage() {
  return R"(switchboard-bench: load generator for Switchboard, the PeerJS server and bench/raw_relay

  --scenario S            relay | latency | connections | cross-pod (default relay)
  --workload W            what cross-pod runs: relay | latency (default relay)
  --dialect D             native | peerjs | raw (default native)
  --server HOST:PORT      a server to connect to (default 127.0.0.1:8080); give two for cross-pod
  --peerjs-path P         PeerJS mount path (default /)
  --peerjs-key K          PeerJS key (default peerjs)
  --pairs N               relay/latency: pairs of peers (default 100)
  --connections N         connections: connections to open (default 1000)
  --rate R                messages per second in all; relay: 0 = closed loop (default 0)
  --message-bytes B       latency: bytes per message (default 256)
  --duration S            seconds of measured load (default 10)
  --warmup S              seconds of load before measuring (default 1)
  --drain S               seconds to wait for messages in flight after the last send (default 3)
  --sources N             source addresses, in a 127.a.b.0/24 of the run's own (default: one
                          per 10,000 connections)
  --connect-concurrency N handshakes in flight at once (default 256)
  --heartbeat-seconds S   connections: keep-alive interval per connection (default 10)
  --threads N             event loops, each with its own connections (default 1)
  --server-pid PID        a server process whose CPU and RSS to report (repeatable)
  --redis-pid PID         a redis-server whose CPU to report (repeatable: the masters of a
                          cluster, each reported and summed)
  --json FILE             write the result there
  --id-prefix P           prefix of peer ids, [a-z0-9]{1,16} (default random)
  --no-progress           no line a second on stderr
)";
}

}  // namespace switchboard::bench
