// c_api_heap.hpp (private): poolkit_heap_options -> Heap::Options, shared by the
// heap and pool-set sections of the C API.
#pragma once

#include "poolkit/heap.hpp"
#include "poolkit/poolkit.h"

namespace poolkit::c_api {

inline Heap::Options heap_options(const poolkit_heap_options* c) noexcept {
  Heap::Options o;
  if (!c) return o;
  if (c->region_size) o.region_size = c->region_size;
  if (c->growth) o.growth = c->growth;
  o.max_bytes = c->max_bytes;
  o.return_empty_regions = !c->keep_empty_regions;
  o.coalescing = c->deferred_coalescing ? Heap::Coalescing::kDeferred : Heap::Coalescing::kImmediate;
  return o;
}

}  // namespace poolkit::c_api
