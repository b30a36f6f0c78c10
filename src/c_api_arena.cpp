// c_api_arena.cpp: the "arenas" section of poolkit.h over Arena.
#include <new>
#include <stdexcept>

#include "c_api_detail.hpp"
#include "poolkit/arena.hpp"

using poolkit::Arena;
using poolkit::c_api::fail;

struct poolkit_arena {
  Arena arena;
};

extern "C" poolkit_arena* poolkit_arena_create(const poolkit_arena_options* options) {
  poolkit_arena_options c{};
  if (options) c = *options;
  Arena::Options o;
  if (c.initial_size) o.initial_size = c.initial_size;
  if (c.growth_factor) o.growth_factor = c.growth_factor;
  if (c.max_region_size) o.max_region_size = c.max_region_size;
  o.max_size = c.max_size;
  o.fixed = c.fixed != 0;
  if (Arena::validate(o) || (!c.buffer && c.buffer_size)) return static_cast<poolkit_arena*>(fail(EINVAL));
  try {
    if (c.buffer) return new poolkit_arena{Arena(c.buffer, c.buffer_size, o)};
    return new poolkit_arena{Arena(o)};
  } catch (const std::invalid_argument&) {
    return static_cast<poolkit_arena*>(fail(EINVAL));
  } catch (...) {
    return static_cast<poolkit_arena*>(fail(ENOMEM));
  }
}

extern "C" void poolkit_arena_destroy(poolkit_arena* arena) { delete arena; }

extern "C" void* poolkit_arena_alloc(poolkit_arena* arena, size_t size, size_t align) {
  if (!arena || size == 0 || !poolkit::c_api::alignment_ok(align)) return fail(EINVAL);
  void* p = arena->arena.allocate(size, align ? align : poolkit::kDefaultAlignment);
  return p ? p : fail(ENOMEM);
}

extern "C" void poolkit_arena_free(poolkit_arena* arena, void* p, size_t size) {
  if (!arena) {
    if (p) errno = EINVAL;
    return;
  }
  arena->arena.deallocate(p, size);
}

extern "C" void poolkit_arena_reset(poolkit_arena* arena) {
  if (!arena) {
    errno = EINVAL;
    return;
  }
  arena->arena.reset();
}

extern "C" poolkit_arena_marker poolkit_arena_mark(const poolkit_arena* arena) {
  if (!arena) {
    errno = EINVAL;
    return poolkit_arena_marker{nullptr, 0, 0, 0, 0};
  }
  Arena::Mark m = arena->arena.mark();
  return poolkit_arena_marker{m.region, m.top, m.used_before, m.live, m.requested};
}

extern "C" int poolkit_arena_rewind(poolkit_arena* arena, poolkit_arena_marker marker) {
  if (!arena ||
      !arena->arena.rewind(Arena::Mark{marker.region, marker.top, marker.used_before, marker.live, marker.requested})) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

extern "C" size_t poolkit_arena_used(const poolkit_arena* arena) {
  if (!arena) {
    errno = EINVAL;
    return 0;
  }
  return arena->arena.used();
}

extern "C" int poolkit_arena_stats(const poolkit_arena* arena, poolkit_stats* out) {
  if (!arena || !out) {
    errno = EINVAL;
    return -1;
  }
  *out = poolkit::c_api::to_c(arena->arena.stats());
  return 0;
}
