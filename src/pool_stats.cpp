// pool_stats.cpp: PoolStats as text a person reads at a glance.
#include "poolkit/pool_stats.hpp"

#include <cinttypes>

namespace poolkit {

std::string format_bytes(std::size_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = double(bytes);
  unsigned unit = 0;
  while (value >= 1024.0 && unit + 1 < sizeof units / sizeof *units) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0)
    std::snprintf(buf, sizeof buf, "%zu B", bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", value, units[unit]);
  return buf;
}

std::string to_string(const PoolStats& s, std::string_view name) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "%.*s\n"
                "  in use     %10s in %zu blocks (%s requested, %s = %.1f%% overhead)\n"
                "  peak       %10s\n"
                "  free       %10s, largest piece %s (external fragmentation %.1f%%)\n"
                "  reserved   %10s in %" PRIu64 " regions\n"
                "  calls      %" PRIu64 " allocations, %" PRIu64 " frees, %" PRIu64 " failed\n",
                int(name.size()), name.data(), format_bytes(s.bytes_in_use).c_str(), s.live_blocks,
                format_bytes(s.bytes_requested).c_str(), format_bytes(s.internal_waste()).c_str(),
                100.0 * s.internal_fragmentation(), format_bytes(s.peak_in_use).c_str(),
                format_bytes(s.bytes_free).c_str(), format_bytes(s.largest_free).c_str(),
                100.0 * s.external_fragmentation(), format_bytes(s.bytes_reserved).c_str(), s.regions,
                s.allocations, s.deallocations, s.failures);
  return buf;
}

void print_stats(const PoolStats& stats, std::string_view pool_name, std::FILE* out) {
  std::fputs(to_string(stats, pool_name).c_str(), out);
}

}  // namespace poolkit
