// FUZZ_CHECK: an invariant of a fuzz target. When it fails, the target says which one and traps,
// so libFuzzer stops, saves the input as a crash and the run fails. Unlike assert(), it is never
// compiled out (the fuzz build is RelWithDebInfo, with NDEBUG).
#pragma once

#include <cstdio>

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      __builtin_trap();                                                                       \
    }                                                                                         \
  } while (false)
