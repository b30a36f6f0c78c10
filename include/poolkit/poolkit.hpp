// poolkit/poolkit.hpp: every C++ component of poolkit in one include, for programs
// that want them all (each header also stands alone; include only what you use to
// keep build times short). Link poolkit::poolkit. The C API is poolkit/poolkit.h,
// the drop-in malloc's poolkit/malloc.h.
#pragma once

// parts
#include "poolkit/align.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"
#include "poolkit/memory_source.hpp"
#include "poolkit/page_source.hpp"

// pools
#include "poolkit/arena.hpp"
#include "poolkit/buddy_pool.hpp"
#include "poolkit/fixed_pool.hpp"
#include "poolkit/heap.hpp"
#include "poolkit/object_pool.hpp"
#include "poolkit/pool_set.hpp"
#include "poolkit/process_mutex.hpp"
#include "poolkit/shared_segment.hpp"
#include "poolkit/shared_heap.hpp"

// pictures
#include "poolkit/heapmap.hpp"

// decorators
#include "poolkit/guard_report.hpp"
#include "poolkit/guarded.hpp"
#include "poolkit/locked.hpp"
#include "poolkit/per_cpu.hpp"

// adapters
#include "poolkit/allocator.hpp"
#include "poolkit/memory_resource.hpp"
