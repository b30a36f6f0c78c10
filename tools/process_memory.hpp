// process_memory.hpp: this process's resident memory, as the tools measure it (the
// replay worker under each malloc, advise's passes in a forked child).
#pragma once

#include <cstdint>

namespace poolkit::cli {

/// Resident bytes now (/proc/self/statm); 0 when unreadable.
std::uint64_t resident_bytes();

/// The high-water mark of resident bytes of this address space (VmHWM in
/// /proc/self/status); 0 when unreadable. Not getrusage's ru_maxrss: after
/// posix_spawn (vfork + exec) that keeps the parent's peak.
std::uint64_t peak_resident_bytes();

}  // namespace poolkit::cli
