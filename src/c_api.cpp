// c_api.cpp: the parts of poolkit.h that every pool shares.
#include "c_api_detail.hpp"

extern "C" void poolkit_stats_print(const poolkit_stats* stats, const char* name, FILE* out) {
  if (!stats) return;
  poolkit::print_stats(poolkit::c_api::from_c(*stats), name ? name : "pool", out ? out : stderr);
}
