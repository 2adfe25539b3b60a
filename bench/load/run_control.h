// What the generator's main thread and its worker threads share while a run goes on.
//
// The main thread moves the run from phase to phase and reads the workers' counters once a second;
// the workers each own their connections and only ever write their own counters. So every field
// here is an atomic written by one thread, and nothing needs a lock.
#pragma once

#include <atomic>
#include <cstdint>

namespace switchboard::bench {

enum class Phase {
  kConnecting,  // open and register every connection
  kLoading,     // send load (warmup, then the measured window)
  kDraining,    // start nothing new; answer what arrives, wait for what is in flight
  kStopping,    // close everything and end
};

// Counters of one worker. Only that worker writes them (Bump), anyone may read them.
struct WorkerCounters {
  std::atomic<uint64_t> sent{0};      // relayed messages queued for sending
  std::atomic<uint64_t> received{0};  // relayed messages read from a socket
  std::atomic<uint64_t> error_notices{0};
  std::atomic<uint64_t> order_violations{0};  // received out of sequence on their connection
  std::atomic<uint64_t> other_frames{0};      // frames the generator did not expect
  std::atomic<uint64_t> heartbeats{0};
  std::atomic<uint64_t> pongs{0};
  std::atomic<uint64_t> ready{0};             // connections registered
  std::atomic<uint64_t> connect_failures{0};  // connections refused or failed before registering
  std::atomic<uint64_t> disconnects{0};       // registered connections closed before the end
  std::atomic<bool> connecting_done{false};   // every connection is ready or failed
};

// Adds one; only the owning worker calls it, so a plain load and store suffice.
inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct RunControl {
  std::atomic<Phase> phase{Phase::kConnecting};
  std::atomic<bool> measuring{false};     // record latencies only inside the measured window
  std::atomic<int64_t> load_start_ns{0};  // when kLoading began: open-loop schedules count from it
};

}  // namespace switchboard::bench
