// pool_stats.cpp: PoolStats as text a person reads at a glance.
#include "poolkit/pool_stats.hpp"

#include <cinttypes>

#include "common/format_bytes.hpp"

namespace poolkit {

std::string format_bytes(std::size_t bytes) {
  char buf[32];
  return detail::format_bytes_into(buf, sizeof buf, bytes);
}

std::string to_string(const PoolStats& s, std::string_view name) {
  // A one-size pool has no external fragmentation to speak of: say what its pieces are.
  char free_line[160];
  if (s.fixed_size_blocks)
    std::snprintf(free_line, sizeof free_line, "%10s in pieces of %s (one size)", format_bytes(s.bytes_free).c_str(),
                  format_bytes(s.largest_free).c_str());
  else
    std::snprintf(free_line, sizeof free_line, "%10s, largest piece %s (external fragmentation %.1f%%)",
                  format_bytes(s.bytes_free).c_str(), format_bytes(s.largest_free).c_str(),
                  100.0 * s.external_fragmentation());
  char calls_line[160];
  if (s.calls_counted)
    std::snprintf(calls_line, sizeof calls_line, "%" PRIu64 " allocations, %" PRIu64 " frees, %" PRIu64 " failed",
                  s.allocations, s.deallocations, s.failures);
  else
    std::snprintf(calls_line, sizeof calls_line, "%" PRIu64 " failed (allocations and frees not counted in this build)",
                  s.failures);
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "%.*s\n"
                "  in use     %10s in %zu blocks (%s requested, %s = %.1f%% overhead)\n"
                "  peak       %10s\n"
                "  free       %s\n"
                "  reserved   %10s in %" PRIu64 " regions\n"
                "  calls      %s\n",
                int(name.size()), name.data(), format_bytes(s.bytes_in_use).c_str(), s.live_blocks,
                format_bytes(s.bytes_requested).c_str(), format_bytes(s.internal_waste()).c_str(),
                100.0 * s.internal_fragmentation(), format_bytes(s.peak_in_use).c_str(), free_line,
                format_bytes(s.bytes_reserved).c_str(), s.regions, calls_line);
  return buf;
}

void print_stats(const PoolStats& stats, std::string_view pool_name, std::FILE* out) {
  std::fputs(to_string(stats, pool_name).c_str(), out);
}

}  // namespace poolkit
