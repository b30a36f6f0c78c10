// advise_hot_site: a program with one hot call site: a particle system that keeps
// 1000 particles of 48 bytes alive and replaces one at every step, through malloc.
// `poolkit trace` + `poolkit advise` on it name spawn_particle and a FixedPool
// (docs/advise.md); the test tools/advise_test checks that they do.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Particle {
  double x, y, z, vx, vy, vz;  // 48 bytes
};
static_assert(sizeof(Particle) == 48);

// The hot site: every step frees one particle and makes another here.
__attribute__((noinline)) Particle* spawn_particle(unsigned seed) {
  auto* p = static_cast<Particle*>(std::malloc(sizeof(Particle)));
  if (p == nullptr) std::abort();
  p->x = seed % 100;
  p->y = seed % 37;
  p->z = 0;
  p->vx = 1;
  p->vy = 0.5;
  p->vz = -1;
  return p;
}

// A cold site: a few long-lived names, which no pool would improve.
__attribute__((noinline)) char* load_name(int i) {
  char* name = static_cast<char*>(std::malloc(32));
  if (name == nullptr) std::abort();
  std::snprintf(name, 32, "emitter-%d", i);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned steps = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 200000;
  constexpr unsigned kLive = 1000;
  char* names[8];
  for (int i = 0; i < 8; ++i) names[i] = load_name(i);
  Particle* live[kLive];
  for (unsigned i = 0; i < kLive; ++i) live[i] = spawn_particle(i);
  unsigned state = 12345;
  double sum = 0;
  for (unsigned step = 0; step < steps; ++step) {
    state = state * 1103515245u + 12345u;  // a fixed sequence: the same trace every run
    const unsigned k = (state >> 8) % kLive;
    sum += live[k]->x + live[k]->vx;
    std::free(live[k]);
    live[k] = spawn_particle(state);
  }
  for (Particle* p : live) std::free(p);
  std::printf("%u steps, checksum %.0f, first emitter %s\n", steps, sum, names[0]);
  for (char* n : names) std::free(n);
  return 0;
}
