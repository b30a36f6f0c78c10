// poolkit/config.hpp: build-time switches every pool honours.
#pragma once

namespace poolkit {

/// True in a build with -DPOOLKIT_FORWARD_TO_MALLOC=ON: every pool hands each
/// request to malloc/free (aligned_alloc where needed) so valgrind and ASan see
/// every block as their own. Pool statistics still count calls and bytes.
inline constexpr bool kForwardToMalloc =
#if POOLKIT_FORWARD_TO_MALLOC
    true;
#else
    false;
#endif

}  // namespace poolkit
