#pragma once

// Background threads (the log cleaner, dictionary training) do CPU-heavy work nobody waits for.
// On a small machine they must not take the CPU from appends and reads: they lower their own
// scheduling priority (a Linux thread has its own nice value) and still run whenever a CPU is
// free.

namespace sluice::base {

// Sets the calling thread's nice value to 19 (the lowest priority; never a real-time or idle
// policy, so it is not starved forever). Best effort: a failure leaves the priority as it was.
void LowerThisThreadPriority();

}  // namespace sluice::base
