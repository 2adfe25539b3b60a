// One run of the load generator, from the first connection to the result.
//
// The main thread only orchestrates: it starts the worker threads (load_worker.h), moves the run
// through its phases (connect, warm up, measure, drain, stop), samples the counters and the
// servers' CPU at the edges of the measured window, prints a progress line a second, and merges
// the workers' results. It never touches a socket.
#pragma once

#include "bench/load/bench_config.h"
#include "bench/load/bench_result.h"

namespace switchboard::bench {

// Runs `config` to the end and returns what it measured. A run that could not complete (no
// connection, a pair that could not connect) returns with `error` set. Blocks the calling thread.
BenchResult RunBench(const BenchConfig& config);

}  // namespace switchboard::bench
