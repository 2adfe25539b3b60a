// switchboard-bench: drives load against Switchboard, the PeerJS server or bench/raw_relay, and
// reports throughput, latency, CPU and memory (docs/benchmarks.md).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/load/bench_config.h"
#include "bench/load/bench_run.h"

int main(int argc, char** argv) {
  using namespace switchboard::bench;
  const std::vector<std::string> args(argv + 1, argv + argc);
  BenchConfig config;
  bool help = false;
  std::string error;
  if (!ParseBenchArgs(args, &config, &help, &error)) {
    std::fprintf(stderr, "switchboard-bench: %s\n", error.c_str());
    return 2;
  }
  if (help) {
    std::fputs(BenchUsage().c_str(), stdout);
    return 0;
  }
  const BenchResult result = RunBench(config);
  std::printf("%s\n", SummaryLine(result).c_str());
  if (!config.json_path.empty()) {
    std::ofstream out(config.json_path);
    out << ResultToJson(result);
    if (!out) {
      std::fprintf(stderr, "switchboard-bench: cannot write %s\n", config.json_path.c_str());
      return 1;
    }
  }
  return result.error.empty() ? 0 : 1;
}
