// object_pool: typed objects on a FixedPool: create, destroy, unique_ptr, and an
// over-aligned type.
#include <cstdio>
#include <string>

#include "poolkit/object_pool.hpp"

struct Particle {
  std::string name;
  float x, y, vx, vy;
  Particle(std::string n, float px, float py) : name(std::move(n)), x(px), y(py), vx(1), vy(-1) {}
};

struct alignas(64) CacheLine {  // one per cache line: no false sharing
  long counter = 0;
};

int main() {
  poolkit::ObjectPool<Particle> particles;
  Particle* spark = particles.create("spark", 1.0f, 2.0f);
  {
    auto smoke = particles.make_unique("smoke", 3.0f, 4.0f);  // back to the pool at scope end
    std::printf("%s at (%.1f, %.1f) and %s at (%.1f, %.1f), %zu-byte chunks\n", spark->name.c_str(), spark->x,
                spark->y, smoke->name.c_str(), smoke->x, smoke->y, particles.pool().chunk_size());
  }
  particles.destroy(spark);
  for (int i = 0; i < 1000; ++i) (void)particles.create(std::to_string(i), float(i), 0.0f);
  poolkit::print_stats(particles.stats(), "ObjectPool<Particle>", stdout);
  particles.destroy_all();  // runs ~Particle for the 1000 still alive
  std::printf("after destroy_all(): %zu live\n\n", particles.stats().live_blocks);

  poolkit::ObjectPool<CacheLine> lines;
  CacheLine* a = lines.create();
  CacheLine* b = lines.create();
  std::printf("alignas(64) objects at %p and %p (64-byte aligned: %s)\n", static_cast<void*>(a),
              static_cast<void*>(b),
              reinterpret_cast<std::uintptr_t>(a) % 64 == 0 && reinterpret_cast<std::uintptr_t>(b) % 64 == 0 ? "yes"
                                                                                                           : "no");
  lines.destroy(a);
  lines.destroy(b);
}
