#include "bench/load/bench_run.h"

#include <uv.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>

#include "bench/load/load_worker.h"
#include "bench/load/process_stats.h"
#include "server/open_file_limit.h"

namespace switchboard::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Sums of every worker's counters at one instant.
struct Totals {
  long long sent = 0, received = 0, error_notices = 0, order_violations = 0, other_frames = 0;
  long long heartbeats = 0, pongs = 0, ready = 0, connect_failures = 0, disconnects = 0;
  bool connecting_done = true;
};

// CPU of everything the run watches, at one instant.
struct CpuSample {
  double generator = 0;
  double servers = 0;
  std::vector<double> redis;  // per --redis-pid
};

class Runner {
 public:
  explicit Runner(const BenchConfig& config) : config_(config) {}

  BenchResult Run();

 private:
  int TotalConnections() const {
    return config_.scenario == Scenario::kConnections ? config_.connections : 2 * config_.pairs;
  }
  void StartWorkers();
  void StopWorkers();
  Totals Sum() const;
  CpuSample SampleCpu() const;
  long long ServerRss() const;
  bool Connect();
  void Load();
  void Drain();
  void Wait(double seconds, const char* phase);
  void PrintProgress(const char* phase);
  void Finish();

  const BenchConfig& config_;
  RunControl control_;
  std::vector<std::unique_ptr<LoadWorker>> workers_;
  std::vector<std::thread> threads_;
  BenchResult result_;
  SteadyClock::time_point run_start_ = SteadyClock::now();
  SteadyClock::time_point last_progress_ = run_start_;
  long long last_progress_received_ = 0;
};

std::string RandomPrefix() {
  unsigned char random[6];
  uv_random(nullptr, nullptr, random, sizeof(random), 0, nullptr);
  std::string prefix = "b";
  for (unsigned char byte : random) prefix += "abcdefghijklmnopqrstuvwxyz0123456789"[byte % 36];
  return prefix;
}

void Runner::StartWorkers() {
  const int total = TotalConnections();
  const int threads = std::min(config_.threads, std::max(1, total / 2));
  const int units = config_.scenario == Scenario::kConnections ? total : config_.pairs;
  const int per_unit = config_.scenario == Scenario::kConnections ? 1 : 2;
  for (int t = 0; t < threads; ++t) {
    const int first = units * t / threads * per_unit;
    const int count = units * (t + 1) / threads * per_unit - first;
    const double rate = config_.rate * count / total;
    workers_.push_back(std::make_unique<LoadWorker>(config_, control_, first, count, rate));
  }
  for (auto& worker : workers_) {
    threads_.emplace_back([w = worker.get()] { w->Run(); });
  }
}

void Runner::StopWorkers() {
  control_.phase.store(Phase::kStopping, std::memory_order_release);
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

Totals Runner::Sum() const {
  Totals t;
  for (const auto& worker : workers_) {
    const WorkerCounters& c = worker->counters();
    auto get = [](const std::atomic<uint64_t>& v) {
      return static_cast<long long>(v.load(std::memory_order_relaxed));
    };
    t.sent += get(c.sent);
    t.received += get(c.received);
    t.error_notices += get(c.error_notices);
    t.order_violations += get(c.order_violations);
    t.other_frames += get(c.other_frames);
    t.heartbeats += get(c.heartbeats);
    t.pongs += get(c.pongs);
    t.ready += get(c.ready);
    t.connect_failures += get(c.connect_failures);
    t.disconnects += get(c.disconnects);
    t.connecting_done = t.connecting_done && c.connecting_done.load();
  }
  return t;
}

CpuSample Runner::SampleCpu() const {
  CpuSample sample;
  sample.generator = OwnCpuSeconds();
  for (pid_t pid : config_.server_pids) {
    if (auto usage = ReadProcessUsage(pid)) sample.servers += usage->cpu_seconds;
  }
  for (pid_t pid : config_.redis_pids) {
    const auto usage = ReadProcessUsage(pid);
    sample.redis.push_back(usage ? usage->cpu_seconds : 0);
  }
  return sample;
}

long long Runner::ServerRss() const {
  long long rss = 0;
  for (pid_t pid : config_.server_pids) {
    if (auto usage = ReadProcessUsage(pid)) rss += usage->rss_bytes;
  }
  return rss;
}

void Runner::PrintProgress(const char* phase) {
  if (!config_.progress) return;
  const double since_last =
      std::chrono::duration<double>(SteadyClock::now() - last_progress_).count();
  if (since_last < 1.0) return;
  const Totals t = Sum();
  std::fprintf(stderr,
               "[%5.1fs] %-10s ready %lld/%d failed %lld  sent %lld received %lld (%.0f msg/s) "
               "errors %lld\n",
               SecondsSince(run_start_), phase, t.ready, TotalConnections(), t.connect_failures,
               t.sent, t.received,
               static_cast<double>(t.received - last_progress_received_) / since_last,
               t.error_notices);
  last_progress_ = SteadyClock::now();
  last_progress_received_ = t.received;
}

void Runner::Wait(double seconds, const char* phase) {
  const auto end = SteadyClock::now() + std::chrono::duration<double>(seconds);
  while (SteadyClock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    PrintProgress(phase);
  }
}

// Opens and registers every connection. Returns false when the run cannot go on.
bool Runner::Connect() {
  result_.server_rss_before = ServerRss();
  const CpuSample cpu_before = SampleCpu();
  const auto start = SteadyClock::now();
  StartWorkers();
  while (!Sum().connecting_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    PrintProgress("connecting");
  }
  result_.connect_seconds = SecondsSince(start);
  const Totals t = Sum();
  if (t.ready > 0) {
    result_.server_cpu_us_per_connection =
        (SampleCpu().servers - cpu_before.servers) * 1e6 / static_cast<double>(t.ready);
  }
  result_.ready = t.ready;
  result_.connect_failures = t.connect_failures;
  result_.connections_per_second = static_cast<double>(t.ready) / result_.connect_seconds;
  for (const auto& worker : workers_) {
    if (!worker->error().empty()) result_.error = worker->error();
  }
  if (result_.error.empty() && t.ready == 0) result_.error = "no connection could be opened";
  if (result_.error.empty() && t.connect_failures > 0 &&
      config_.scenario != Scenario::kConnections) {
    result_.error =
        std::to_string(t.connect_failures) + " connections failed: pairs are incomplete";
  }
  return result_.error.empty();
}

void Runner::Load() {
  control_.load_start_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
          .count());
  control_.phase.store(Phase::kLoading, std::memory_order_release);
  if (config_.scenario == Scenario::kConnections) {
    // Let the last handshakes' buffers settle before reading the servers' memory.
    Wait(std::min(1.0, config_.warmup_seconds), "settling");
    result_.server_rss_connected = ServerRss();
  } else {
    Wait(config_.warmup_seconds, "warmup");
  }
  const Totals before = Sum();
  const CpuSample cpu_before = SampleCpu();
  const auto window_start = SteadyClock::now();
  control_.measuring.store(true);
  Wait(config_.duration_seconds, "measuring");
  control_.measuring.store(false);
  const Totals after = Sum();
  const CpuSample cpu_after = SampleCpu();
  result_.window_seconds = SecondsSince(window_start);
  result_.window_received = after.received - before.received;
  result_.generator_cpu_seconds = cpu_after.generator - cpu_before.generator;
  result_.server_cpu_seconds = cpu_after.servers - cpu_before.servers;
  for (size_t i = 0; i < cpu_after.redis.size(); ++i) {
    result_.redis_cpu_seconds_each.push_back(cpu_after.redis[i] - cpu_before.redis[i]);
    result_.redis_cpu_seconds += result_.redis_cpu_seconds_each.back();
  }
}

// Starts nothing new and waits until everything written has arrived or been reported.
void Runner::Drain() {
  control_.phase.store(Phase::kDraining, std::memory_order_release);
  const auto end = SteadyClock::now() + std::chrono::duration<double>(config_.drain_seconds);
  while (SteadyClock::now() < end) {
    const Totals t = Sum();
    const bool pongs_due = config_.dialect == Dialect::kNative;  // the one dialect that answers
    if (t.sent == t.received + t.error_notices && (!pongs_due || t.pongs == t.heartbeats)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    PrintProgress("draining");
  }
}

void Runner::Finish() {
  const Totals t = Sum();
  result_.sent = t.sent;
  result_.received = t.received;
  result_.error_notices = t.error_notices;
  result_.missing = t.sent - t.received - t.error_notices;
  result_.order_violations = t.order_violations;
  result_.disconnects = t.disconnects;
  result_.other_frames = t.other_frames;
  result_.heartbeats = t.heartbeats;
  result_.pongs = t.pongs;
  for (const auto& worker : workers_) result_.latencies.Merge(worker->latencies());

  const double window = result_.window_seconds;
  if (window > 0) {
    result_.messages_per_second = static_cast<double>(result_.window_received) / window;
    result_.generator_cpu_cores = result_.generator_cpu_seconds / window;
    result_.server_cpu_cores = result_.server_cpu_seconds / window;
  }
  result_.generator_bound =
      result_.generator_cpu_cores >= 0.9 * static_cast<double>(workers_.size());
  result_.has_server = !config_.server_pids.empty();
  result_.has_redis = !config_.redis_pids.empty();
  if (result_.window_received > 0) {
    result_.server_cpu_us_per_message =
        result_.server_cpu_seconds * 1e6 / static_cast<double>(result_.window_received);
  }
  if (result_.ready > 0 && result_.server_rss_connected > 0) {
    result_.server_rss_per_connection =
        static_cast<double>(result_.server_rss_connected - result_.server_rss_before) /
        static_cast<double>(result_.ready);
  }
}

BenchResult Runner::Run() {
  result_.scenario = std::string(ScenarioName(config_.scenario));
  if (config_.scenario == Scenario::kCrossPod) {
    result_.scenario += "/" + std::string(ScenarioName(config_.workload));
  }
  result_.dialect = std::string(DialectName(config_.dialect));
  result_.connections = TotalConnections();
  result_.offered_rate = config_.rate;
  // Not more than the run needs: see server/open_file_limit.h.
  server::FitOpenFileLimit(static_cast<rlim_t>(result_.connections) + 1024);
  if (Connect()) {
    Load();
    Drain();
  }
  StopWorkers();
  Finish();
  return result_;
}

}  // namespace

BenchResult RunBench(const BenchConfig& config) {
  BenchConfig resolved = config;
  if (resolved.id_prefix.empty()) resolved.id_prefix = RandomPrefix();
  if (resolved.source_subnet == 0) {
    uint16_t random = 0;
    uv_random(nullptr, nullptr, &random, sizeof(random), 0, nullptr);
    resolved.source_subnet = 1 + random % 65535;
  }
  Runner runner(resolved);
  return runner.Run();
}

}  // namespace switchboard::bench
