// tools/advise_patterns.hpp: what `poolkit advise` finds in a trace: the calls per call
// site (the innermost return address, as `poolkit report` groups them), groups of sites
// whose blocks are freed together, the pattern of each (one size with churn, blocks
// that die together, numbered groups freed as a whole, power-of-two sizes with tight
// alignment, variable sizes) and the poolkit component that fits it. Also the site's
// calls as a replay script for advise_measure. No pool code here: the rules are pure
// functions of the trace, so that tests feed them synthetic call sequences.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace_timeline.hpp"

namespace poolkit::trace {

// A run of at least kMinBurst releases in a row by one thread (no allocation of that
// thread between them): a phase, a request or a frame ending.
inline constexpr std::uint32_t kMinBurst = 4;

enum class Pattern {
  kNone,            // too few calls, or nothing a pool does better
  kOneSize,         // one size, high churn
  kDieTogether,     // blocks freed together, everything allocated since a point
  kNumberedGroups,  // blocks freed together while others allocated among them live on
  kPowerOfTwo,      // power-of-two sizes with tight alignment
  kVariableSizes,   // many sizes, high churn
};

enum class Suggestion { kNone, kFixedPool, kPerCpuFixedPool, kArena, kPoolSet, kBuddyPool, kHeap };

const char* pattern_name(Pattern p);
const char* suggestion_name(Suggestion s);

/// The figures the rules look at, for one site or a group of sites.
struct Profile {
  std::vector<std::uint64_t> sites;  // innermost return addresses, most calls first
  std::uint32_t stack = 0;           // an example stack: the one with most calls
  std::uint64_t allocations = 0;
  std::uint64_t releases = 0;
  std::uint64_t recycled = 0;        // releases before the site's last allocation (churn, not teardown)
  std::uint64_t bytes = 0;
  std::uint64_t top_size = 0;        // the most frequent size
  std::uint64_t top_size_calls = 0;
  std::uint64_t max_size = 0;
  std::uint64_t distinct_sizes = 0;
  std::uint64_t pow2_calls = 0;      // sizes that are powers of two
  std::uint64_t aligned_calls = 0;   // alignment above 16 asked for
  std::uint64_t max_align = 0;
  std::uint64_t threads = 0;         // threads that allocate or free there
  std::uint64_t peak_live_bytes = 0;
  std::uint64_t releases_in_bursts = 0;  // released in a burst (of any length >= kMinBurst)
  std::uint64_t rewind_bursts = 0;   // bursts that free everything of the group allocated since their oldest block
  std::uint64_t partial_bursts = 0;  // bursts that leave blocks allocated among theirs alive
};

struct Advice {
  Profile profile;
  Pattern pattern = Pattern::kNone;
  Suggestion suggestion = Suggestion::kNone;
  std::string reason;  // one line
};

struct AdviseLimits {
  std::uint64_t min_calls = 100;  // fewer allocations than this: not worth a pool
};

/// The sites and groups of the trace, each with its pattern, most calls first.
/// Groups are sites freed in the same bursts, again and again; a site in a group is
/// not listed alone.
std::vector<Advice> advise(const Timeline& timeline, const AdviseLimits& limits = {});

/// The rule alone, on a profile (the tests' way in).
void classify(Advice& advice, const AdviseLimits& limits = {});

// ---- the replay script of one site or group -----------------------------------------

enum class ReplayKind : std::uint8_t {
  kAlloc,    // slot = new block
  kFree,     // slot released on its own
  kCovered,  // slot released by the following kRewind/kReleaseGroup: malloc frees it, the pool skips it
  kMark,     // Arena: remember the top
  kRewind,   // Arena: back to the last mark
  kReleaseGroup,  // PoolSet: release pool `group`
  kOtherAlloc,    // a call of another site: always malloc (the rest of the program)
  kOtherFree,
};

struct ReplayOp {
  ReplayKind kind;
  std::uint32_t slot;
  std::uint32_t group;  // PoolSet: the pool the block belongs to (0: freed on its own)
  std::uint32_t align;
  std::uint64_t size;
};

struct ReplayScript {
  std::vector<ReplayOp> ops;
  std::uint32_t slots = 0;
};

/// The calls of the advice's sites as a script for its suggestion (marks and rewinds
/// for an Arena, pool numbers for a PoolSet), in the trace's order, on one thread.
/// With `whole_program`, every other call of the trace is in it too (kOther*), so
/// that the memory measured is the program's, holes between the sites' blocks included.
ReplayScript replay_script(const Timeline& timeline, const Advice& advice, bool whole_program = false);

}  // namespace poolkit::trace
