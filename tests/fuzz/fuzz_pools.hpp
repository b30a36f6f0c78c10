// fuzz_pools.hpp: the pools the harnesses drive (the test support pools, and every
// real pool on main as it lands).
#pragma once

#include "support_pools.hpp"
