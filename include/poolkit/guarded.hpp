// poolkit/guarded.hpp: Guarded<P>, a debug decorator over any pool. It puts guards
// around every block, poisons fresh and freed memory, quarantines freed blocks, and
// reports overflows, double frees, foreign and interior pointers, writes after free
// and leaks. Pick it while developing or chasing memory bugs; it is slow and large.
//
// One block, as the inner pool sees it (F = max(16, align), B >= 16, F + n + B a
// multiple of 16):
//
//   inner block                user pointer (aligned to align)
//   |                          |
//   [ef be ad de ...][size][canary][ user bytes: n ][0d f0 ad ba 0d f0 ...]
//   <------------- F = front guard ><----- n ------><------ B back guard ---->
//
// The size word sits below the canary so that a small underflow hits the canary
// first. Under ASan and valgrind both guards and every quarantined block are made
// unaddressable (detail/annotations.hpp), so the tool itself reports the overrun at
// the faulting instruction; Guarded's own checks catch what a plain build misses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "poolkit/align.hpp"
#include "poolkit/detail/annotations.hpp"
#include "poolkit/guard_report.hpp"
#include "poolkit/pool.hpp"

namespace poolkit {

/// A live block as leaks() lists it.
struct GuardedBlock {
  const void* address;
  std::size_t size;
  const char* tag;
};

template <Pool P>
class Guarded {
 public:
  static constexpr std::uint64_t kFrontCanary = 0xdeadbeefdeadbeefull;
  static constexpr std::uint32_t kBackCanary = 0xBAADF00Du;
  static constexpr std::size_t kMinGuard = 16;

  /// Constructs the inner pool from inner_args; options may be overridden by
  /// POOLKIT_GUARD (see apply_guard_spec) unless options.use_env is false.
  template <class... Args>
  explicit Guarded(GuardOptions options, Args&&... inner_args)
      : options_(std::move(options)), inner_(std::forward<Args>(inner_args)...) {
    apply_guard_env(options_);
  }
  Guarded() : Guarded(GuardOptions{}) {}

  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  ~Guarded() {
    if (options_.checks.leaks) report_leaks();
    drain_quarantine();
    for (auto& [user, rec] : live_) open_block(rec);
  }

  void* allocate(std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    return allocate(size, align, current_guard_tag());
  }

  /// As allocate(size, align), and the block carries `tag` (kept by pointer: pass a
  /// string that outlives the block) in leaks() and in every report about it.
  void* allocate(std::size_t size, std::size_t align, const char* tag) noexcept {
    BlockRecord rec{};
    if (!is_valid_alignment(align) || !layout(size, align, &rec)) {
      ++failures_;
      return nullptr;
    }
    rec.tag = tag;
    evict_while_over_limits();
    void* inner = inner_.allocate(rec.inner_size, rec.inner_align);
    if (!inner && !quarantine_.empty()) {  // memory held back may be what is missing
      drain_quarantine();
      inner = inner_.allocate(rec.inner_size, rec.inner_align);
    }
    if (!inner) {
      ++failures_;
      return nullptr;
    }
    rec.inner = static_cast<unsigned char*>(inner);
    unsigned char* user = rec.inner + rec.front;
    write_guards(user, rec);
    if (options_.checks.poison) std::memset(user, options_.poison, size);
    close_guards(user, rec);
    // map insertion may throw: a debug layer treats out-of-memory there as fatal.
    live_.emplace(reinterpret_cast<std::uintptr_t>(user), rec);
    bytes_live_ += size;
    ++allocations_;
    return user;
  }

  void deallocate(void* p, std::size_t size, std::size_t align = kDefaultAlignment) noexcept {
    (void)align;
    if (!p) return;
    auto addr = reinterpret_cast<std::uintptr_t>(p);
    auto it = live_.find(addr);
    if (it == live_.end()) {
      diagnose_bad_free(p);
      return;
    }
    BlockRecord rec = it->second;
    auto* user = static_cast<unsigned char*>(p);
    if (options_.checks.size && size != rec.size) {
      GuardReport r = report_for(GuardError::size_mismatch, user, rec);
      r.found = static_cast<unsigned>(size);
      raise(r);
    }
    open_block(rec);
    check_guards(user, rec);
    live_.erase(it);
    bytes_live_ -= rec.size;
    ++deallocations_;
    if (options_.checks.poison) std::memset(user, options_.poison, rec.size);
    if (options_.checks.quarantine && options_.quarantine_blocks > 0) {
      annotate::metadata_close(rec.inner, rec.inner_size);  // the whole block is off limits
      quarantine_.push_back(addr);
      quarantined_.emplace(addr, rec);
      quarantine_bytes_ += rec.inner_size;
      evict_while_over_limits();
    } else {
      give_back(rec);
    }
  }

  /// True for an address inside the user bytes of a live block.
  bool owns(const void* p) const noexcept { return find_containing(live_, p, false) != nullptr; }

  /// Frees every block (live and quarantined) at once; reports nothing.
  void release() noexcept {
    for (auto& [user, rec] : live_) open_block(rec);
    for (auto& [user, rec] : quarantined_) open_block(rec);
    live_.clear();
    quarantined_.clear();
    quarantine_.clear();
    quarantine_bytes_ = 0;
    bytes_live_ = 0;
    inner_.release();
  }

  /// The inner pool's statistics, with the request-level numbers (bytes asked for,
  /// live blocks, call counts) as the user of Guarded sees them. bytes_in_use
  /// includes guards and the quarantine.
  PoolStats stats() const noexcept {
    PoolStats s = inner_.stats();
    s.bytes_requested = bytes_live_;
    s.live_blocks = live_.size();
    s.allocations = allocations_;
    s.deallocations = deallocations_;
    s.failures = failures_;
    s.calls_counted = true;  // Guarded counts them itself
    return s;
  }

  /// Verifies every live block's guards and every quarantined block's poison and
  /// guards (reporting what is wrong), the bookkeeping, and the inner pool's check()
  /// if it has one. True when all is well.
  bool check() noexcept {
    std::uint64_t before = errors_total();
    std::size_t qbytes = 0;
    bool ok = quarantine_.size() == quarantined_.size();
    for (auto& [addr, rec] : live_) {
      open_block(rec);
      check_guards(reinterpret_cast<unsigned char*>(addr), rec);
      close_guards(reinterpret_cast<unsigned char*>(addr), rec);
    }
    for (auto& [addr, rec] : quarantined_) {
      open_block(rec);
      check_freed(reinterpret_cast<unsigned char*>(addr), rec);
      annotate::metadata_close(rec.inner, rec.inner_size);
      qbytes += rec.inner_size;
    }
    ok = ok && qbytes == quarantine_bytes_;
    if constexpr (requires(P& q) { { q.check() } -> std::convertible_to<bool>; }) {
      ok = inner_.check() && ok;
    }
    return ok && errors_total() == before;
  }

  /// The live blocks, in address order, with size and caller tag.
  std::vector<GuardedBlock> leaks() const {
    std::vector<GuardedBlock> out;
    out.reserve(live_.size());
    for (const auto& [addr, rec] : live_)
      out.push_back({reinterpret_cast<const void*>(addr), rec.size, rec.tag});
    return out;
  }

  /// Hands every quarantined block back to the inner pool, checking each.
  void drain_quarantine() noexcept {
    while (!quarantine_.empty()) evict_oldest();
  }

  std::uint64_t errors(GuardError kind) const noexcept {
    return counters_[static_cast<unsigned>(kind)];
  }
  std::uint64_t errors_total() const noexcept {
    std::uint64_t n = 0;
    for (auto c : counters_) n += c;
    return n;
  }
  std::size_t quarantined_blocks() const noexcept { return quarantine_.size(); }
  const GuardOptions& options() const noexcept { return options_; }
  P& inner() noexcept { return inner_; }
  const P& inner() const noexcept { return inner_; }

 private:
  // One block's facts, kept in a side registry so that no user write can corrupt them.
  // Invariants: inner + front is the user pointer (the key); front >= 16, a multiple
  // of align; front + size + back == inner_size, a multiple of 16, back >= 16.
  struct BlockRecord {
    unsigned char* inner;
    std::size_t size;
    std::size_t front;
    std::size_t inner_size;
    std::size_t inner_align;
    const char* tag;
  };
  using Registry = std::map<std::uintptr_t, BlockRecord>;

  static bool layout(std::size_t size, std::size_t align, BlockRecord* rec) noexcept {
    std::size_t padded = 0, total = 0;
    rec->size = size;
    rec->inner_align = std::max(align, kMinGuard);
    rec->front = rec->inner_align;
    if (!checked_align_up(size, kMinGuard, &padded) || !checked_add(padded, kMinGuard, &padded) ||
        !checked_add(padded, rec->front, &total))
      return false;
    rec->inner_size = total;
    return true;
  }

  std::size_t back_size(const BlockRecord& rec) const noexcept {
    return rec.inner_size - rec.front - rec.size;
  }
  static unsigned char front_byte(std::size_t i) noexcept {
    return static_cast<unsigned char>(kFrontCanary >> (8 * (i % 8)));
  }
  static unsigned char back_byte(std::size_t i) noexcept {
    return static_cast<unsigned char>(kBackCanary >> (8 * (i % 4)));
  }

  // Front guard: canary bytes up to the size word, then the size word, then the canary word.
  void write_guards(unsigned char* user, const BlockRecord& rec) noexcept {
    if (!options_.checks.canary) return;
    for (std::size_t i = 0; i < rec.front - kMinGuard; ++i) rec.inner[i] = front_byte(i);
    std::uint64_t size_word = rec.size, canary = kFrontCanary;
    std::memcpy(user - 16, &size_word, 8);
    std::memcpy(user - 8, &canary, 8);
    unsigned char* back = user + rec.size;
    for (std::size_t i = 0, n = back_size(rec); i < n; ++i) back[i] = back_byte(i);
  }

  // Redzones for ASan and valgrind: the guards are never the user's to touch.
  void close_guards(unsigned char* user, const BlockRecord& rec) noexcept {
    annotate::metadata_close(rec.inner, rec.front);
    annotate::metadata_close(user + rec.size, back_size(rec));
  }
  static void open_block(const BlockRecord& rec) noexcept {
    annotate::metadata_open(rec.inner, rec.inner_size);
  }

  // Reports the first damaged byte of each guard. Precondition: block is open.
  void check_guards(unsigned char* user, const BlockRecord& rec) noexcept {
    if (!options_.checks.canary) return;
    std::uint64_t size_word = 0;
    std::memcpy(&size_word, user - 16, 8);
    for (std::size_t i = rec.front; i-- > 0;) {  // nearest the block first
      unsigned char want = i >= rec.front - 16 && i < rec.front - 8
                               ? static_cast<unsigned char>(std::uint64_t{rec.size} >> (8 * (i % 8)))
                               : front_byte(i);
      if (rec.inner[i] != want) {
        GuardReport r = report_for(GuardError::underflow, user, rec);
        r.offset = static_cast<std::ptrdiff_t>(i) - static_cast<std::ptrdiff_t>(rec.front);
        r.found = rec.inner[i];
        r.expected = want;
        raise(r);
        break;
      }
    }
    const unsigned char* back = user + rec.size;
    for (std::size_t i = 0, n = back_size(rec); i < n; ++i) {
      if (back[i] != back_byte(i)) {
        GuardReport r = report_for(GuardError::overflow, user, rec);
        r.offset = static_cast<std::ptrdiff_t>(rec.size + i);
        r.found = back[i];
        r.expected = back_byte(i);
        raise(r);
        break;
      }
    }
  }

  // A quarantined block: guards as before, user bytes still all poison. Block is open.
  void check_freed(unsigned char* user, const BlockRecord& rec) noexcept {
    check_guards(user, rec);
    if (!options_.checks.poison) return;
    for (std::size_t i = 0; i < rec.size; ++i) {
      if (user[i] != options_.poison) {
        GuardReport r = report_for(GuardError::write_after_free, user, rec);
        r.offset = static_cast<std::ptrdiff_t>(i);
        r.found = user[i];
        r.expected = options_.poison;
        raise(r);
        return;
      }
    }
  }

  void evict_while_over_limits() noexcept {
    while (!quarantine_.empty() && (quarantine_.size() > options_.quarantine_blocks ||
                                    quarantine_bytes_ > options_.quarantine_bytes))
      evict_oldest();
  }

  void evict_oldest() noexcept {
    std::uintptr_t addr = quarantine_.front();
    quarantine_.pop_front();
    auto it = quarantined_.find(addr);
    BlockRecord rec = it->second;
    quarantined_.erase(it);
    quarantine_bytes_ -= rec.inner_size;
    open_block(rec);
    check_freed(reinterpret_cast<unsigned char*>(addr), rec);
    give_back(rec);
  }

  void give_back(const BlockRecord& rec) noexcept {
    open_block(rec);  // the inner pool annotates the block as freed itself
    inner_.deallocate(rec.inner, rec.inner_size, rec.inner_align);
  }

  // The registry entry whose block (guards included, or user bytes only) holds p.
  static const std::pair<const std::uintptr_t, BlockRecord>* find_containing(
      const Registry& reg, const void* p, bool with_guards) noexcept {
    auto addr = reinterpret_cast<std::uintptr_t>(p);
    auto contains = [&](const auto& entry) {
      const BlockRecord& rec = entry.second;
      auto begin = with_guards ? reinterpret_cast<std::uintptr_t>(rec.inner) : entry.first;
      auto end = with_guards ? begin + rec.inner_size : entry.first + std::max<std::size_t>(rec.size, 1);
      return begin <= addr && addr < end;
    };
    auto next = reg.upper_bound(addr);
    if (next != reg.end() && contains(*next)) return &*next;  // p in next block's front guard
    if (next != reg.begin() && contains(*std::prev(next))) return &*std::prev(next);
    return nullptr;
  }

  void diagnose_bad_free(void* p) noexcept {
    if (auto q = quarantined_.find(reinterpret_cast<std::uintptr_t>(p)); q != quarantined_.end()) {
      raise(report_for(GuardError::double_free, p, q->second));
      return;
    }
    for (const Registry* reg : {&live_, &quarantined_}) {
      if (auto* entry = find_containing(*reg, p, true)) {
        GuardReport r = report_for(GuardError::interior_pointer, p, entry->second);
        r.block = reinterpret_cast<const void*>(entry->first);
        r.offset = static_cast<std::ptrdiff_t>(reinterpret_cast<std::uintptr_t>(p) - entry->first);
        raise(r);
        return;
      }
    }
    // Not a block we know: a double free whose block already left the quarantine
    // looks the same as a pointer from elsewhere.
    GuardReport r{};
    r.pool = options_.name;
    r.kind = GuardError::foreign_pointer;
    r.address = p;
    raise(r);
  }

  GuardReport report_for(GuardError kind, const void* p, const BlockRecord& rec) const noexcept {
    GuardReport r{};
    r.pool = options_.name;
    r.kind = kind;
    r.address = p;
    r.size = rec.size;
    r.tag = rec.tag;
    return r;
  }

  void raise(const GuardReport& r) noexcept {
    ++counters_[static_cast<unsigned>(r.kind)];
    detail::deliver_guard_report(options_, r);
  }

  void report_leaks() noexcept {
    if (live_.empty()) return;
    GuardOptions leak_options = options_;  // a leak is reported, never fatal
    if (leak_options.action == GuardAction::abort_on_error) leak_options.action = GuardAction::log;
    for (const auto& [addr, rec] : live_) {
      GuardReport r = report_for(GuardError::leak, reinterpret_cast<const void*>(addr), rec);
      ++counters_[static_cast<unsigned>(GuardError::leak)];
      detail::deliver_guard_report(leak_options, r);
    }
  }

  GuardOptions options_;
  P inner_;
  Registry live_;
  Registry quarantined_;
  std::deque<std::uintptr_t> quarantine_;  // FIFO of quarantined user pointers
  std::size_t quarantine_bytes_ = 0;       // sum of inner_size over the quarantine
  std::size_t bytes_live_ = 0;
  std::uint64_t allocations_ = 0, deallocations_ = 0, failures_ = 0;
  std::uint64_t counters_[kGuardErrorKinds] = {};
};

}  // namespace poolkit
