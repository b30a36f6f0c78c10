// trace/stack_cache.hpp: the tracer's name for the call-site memo it shares with checked
// mode's stack depot (common/stack_cache.hpp has it and says how it works).
#pragma once

#include "common/stack_cache.hpp"

namespace poolkit::trace {
using detail::StackCache;
}  // namespace poolkit::trace
