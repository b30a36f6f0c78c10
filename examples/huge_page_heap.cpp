// huge_page_heap: a MemorySource of one's own under a Heap: regions on explicit 2 MiB
// huge pages (MAP_HUGETLB), or, where none are reserved (/proc/sys/vm/nr_hugepages
// is 0 on most machines), ordinary pages with transparent huge pages asked for.
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include "poolkit/heap.hpp"
#include "poolkit/memory_source.hpp"

namespace {

class HugePageSource final : public poolkit::MemorySource {
 public:
  static constexpr std::size_t kHuge = 2 << 20;
  int huge_regions = 0, fallback_regions = 0;

 protected:
  void* do_allocate(std::size_t size, std::size_t alignment) noexcept override {
    if (alignment > kHuge) return nullptr;  // a 2 MiB-aligned mapping is all this source offers
    size = round(size);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p != MAP_FAILED) {
      ++huge_regions;
      return p;
    }
    // No huge pages reserved: map 2 MiB more, keep the 2 MiB-aligned part, ask for THP.
    void* raw = mmap(nullptr, size + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    auto start = (reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1);
    const std::size_t head = start - reinterpret_cast<std::uintptr_t>(raw);
    if (head) munmap(raw, head);
    munmap(reinterpret_cast<void*>(start + size), kHuge - head);
    madvise(reinterpret_cast<void*>(start), size, MADV_HUGEPAGE);
    ++fallback_regions;
    return reinterpret_cast<void*>(start);
  }
  void do_deallocate(void* p, std::size_t size) noexcept override { munmap(p, round(size)); }

 private:
  static std::size_t round(std::size_t size) { return (size + kHuge - 1) / kHuge * kHuge; }
};

}  // namespace

int main() {
  HugePageSource huge_pages;
  poolkit::Heap::Options options;
  options.region_size = HugePageSource::kHuge;
  options.source = &huge_pages;
  int wrong = 0;
  {
    poolkit::Heap heap(options);
    void* blocks[512];
    for (int i = 0; i < 512; ++i) {
      blocks[i] = heap.allocate(8000);
      if (!blocks[i]) return 1;
      std::memset(blocks[i], i & 0xff, 8000);
    }
    for (int i = 0; i < 512; ++i) {
      wrong += static_cast<unsigned char*>(blocks[i])[7999] != (i & 0xff);
      heap.deallocate(blocks[i]);
    }
    wrong += !heap.check();
    std::printf("heap on 2 MiB pages: %zu regions, %s; %d on MAP_HUGETLB, %d on transparent huge pages\n",
                static_cast<std::size_t>(heap.stats().regions), heap.check() ? "consistent" : "BROKEN",
                huge_pages.huge_regions, huge_pages.fallback_regions);
  }
  return wrong == 0 ? 0 : 1;
}
