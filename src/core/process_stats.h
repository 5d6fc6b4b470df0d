// Facts about the running process read from /proc (Linux). Safe to call from any thread.
#pragma once

#include <cstdint>

namespace jrvs {

// Resident set size in bytes (0 if unavailable).
int64_t ResidentMemoryBytes();
// Number of open file descriptors (-1 if unavailable).
int64_t OpenFileDescriptors();
// Process start time in seconds since the Unix epoch (captured at first call of any function here
// or at static initialisation, whichever is first).
double ProcessStartTimeSeconds();
// CPU time (user + system) consumed by the process, in seconds.
double ProcessCpuSeconds();

}  // namespace jrvs
