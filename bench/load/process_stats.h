// CPU time and memory of processes, read from /proc, so that a run reports what the servers
// (and the generator itself) spent.
#pragma once

#include <sys/types.h>

#include <optional>

namespace switchboard::bench {

struct ProcessUsage {
  double cpu_seconds = 0;  // user + system, all threads
  long long rss_bytes = 0;
};

// The usage of process `pid` now; nullopt when it cannot be read (gone, no permission).
std::optional<ProcessUsage> ReadProcessUsage(pid_t pid);

// CPU seconds (user + system, all threads) this process has used so far.
double OwnCpuSeconds();

}  // namespace switchboard::bench
