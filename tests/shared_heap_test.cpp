// SharedHeap, SharedSegment and ProcessMutex: a heap several processes use at once.
// Position independence (one segment mapped at two addresses), attach by name,
// named objects, bad frees, forked writers that hand blocks to each other and check
// every byte, a robust lock whose holder dies, a process killed while allocating,
// and a randomized differential run against BlockModel.
#include "poolkit/shared_heap.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "poolkit/process_mutex.hpp"
#include "poolkit/shared_segment.hpp"
#include "test_support.hpp"

using poolkit::ProcessMutex;
using poolkit::SharedHeap;
using poolkit::SharedSegment;

namespace {

std::string unique_name(const char* what) { return "/poolkit-test-" + std::string(what) + "-" + std::to_string(getpid()); }

// Waits for a child; its exit status, or 128 + signal.
int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST(SharedHeap, AllocatesFreesAndChecks) {
  SharedHeap heap = SharedHeap::anonymous(1 << 20);
  void* a = heap.allocate(100);
  void* b = heap.allocate(5000, 4096);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 4096, 0u);
  EXPECT_TRUE(heap.owns(a) && heap.owns(b));
  std::memset(a, 1, 100);
  std::memset(b, 2, 5000);
  EXPECT_EQ(heap.stats().live_blocks, 2u);
  EXPECT_TRUE(heap.check());
  heap.deallocate(a);
  heap.deallocate(b);
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.stats().bytes_requested, 0u);
  EXPECT_TRUE(heap.check());
}

TEST(SharedHeap, ReturnsNullWhenFullAndRecoversAfterFrees) {
  SharedHeap heap = SharedHeap::anonymous(64 * 1024);
  std::vector<void*> blocks;
  while (void* p = heap.allocate(1000)) blocks.push_back(p);
  EXPECT_GT(blocks.size(), 40u);
  EXPECT_GT(heap.stats().failures, 0u);
  for (void* p : blocks) heap.deallocate(p);
  EXPECT_NE(heap.allocate(30000), nullptr);  // freed neighbours merged back
  EXPECT_TRUE(heap.check());
}

TEST(SharedHeap, LinksAreOffsetsSoTwoMappingsAtDifferentAddressesShareIt) {
  SharedSegment first = SharedSegment::anonymous(256 * 1024);
  SharedSegment second = first.map_again();
  ASSERT_NE(first.base(), second.base());
  SharedHeap a = SharedHeap::format(first.base(), first.size());
  SharedHeap b = SharedHeap::attach(second.base(), second.size());
  std::vector<SharedHeap::Offset> offsets;
  for (int i = 0; i < 50; ++i) {
    auto* p = static_cast<unsigned char*>(a.allocate(100 + i));
    ASSERT_NE(p, nullptr);
    std::memset(p, i, 100 + i);
    offsets.push_back(a.offset_of(p));
  }
  for (int i = 0; i < 50; ++i) {  // read and free through the other mapping
    auto* q = static_cast<unsigned char*>(b.at(offsets[i]));
    for (int k = 0; k < 100 + i; ++k) ASSERT_EQ(q[k], i);
    b.deallocate(q);
  }
  EXPECT_EQ(a.stats().live_blocks, 0u);
  EXPECT_EQ(b.bad_frees(), 0u);
  EXPECT_TRUE(a.check() && b.check());
}

TEST(SharedHeap, AnotherProcessAttachesByName) {
  const std::string name = unique_name("attach");
  SharedHeap::Offset offset;
  {
    SharedHeap heap = SharedHeap::create(name, 256 * 1024);
    auto* counter = static_cast<std::uint64_t*>(heap.find_or_allocate("counter", sizeof(std::uint64_t)));
    ASSERT_NE(counter, nullptr);
    *counter = 41;
    offset = heap.offset_of(counter);
    const pid_t child = fork();
    if (child == 0) {
      try {
        SharedHeap mine = SharedHeap::open(name);
        auto* c = static_cast<std::uint64_t*>(mine.find("counter"));
        if (!c || mine.offset_of(c) != offset || *c != 41) _exit(2);
        *c = 42;
        _exit(0);
      } catch (...) {
        _exit(3);
      }
    }
    ASSERT_EQ(wait_for(child), 0);
    EXPECT_EQ(*counter, 42u);
  }
  SharedHeap again = SharedHeap::open(name);  // the heap outlives its creator's mapping
  EXPECT_EQ(*static_cast<std::uint64_t*>(again.find("counter")), 42u);
  EXPECT_TRUE(SharedSegment::remove(name));
}

TEST(SharedHeap, OpeningANameWithoutASegmentThrowsSystemError) {
  EXPECT_THROW(SharedHeap::open(unique_name("missing")), std::system_error);
}

TEST(SharedHeap, OpeningASegmentWithoutAHeapIsRefused) {
  const std::string name = unique_name("plain");
  { SharedSegment plain = SharedSegment::create(name, 64 * 1024); }
  try {
    SharedHeap::open(name);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "SharedHeap: the segment holds no heap (or one still being made)");
  }
  SharedSegment::remove(name);
}

TEST(SharedHeap, CreatingATakenNameThrows) {
  const std::string name = unique_name("taken");
  SharedHeap heap = SharedHeap::create(name, 64 * 1024);
  EXPECT_THROW(SharedHeap::create(name, 64 * 1024), std::system_error);
  SharedSegment::remove(name);
}

TEST(SharedHeap, RefusesABadNameOrATooSmallSize) {
  EXPECT_THROW(SharedHeap::create("no-slash", 64 * 1024), std::invalid_argument);
  EXPECT_THROW(SharedHeap::anonymous(100), std::invalid_argument);
}

TEST(SharedHeap, AttachRefusesASizeThatDisagrees) {
  SharedSegment segment = SharedSegment::anonymous(128 * 1024);
  SharedHeap::format(segment.base(), segment.size());
  EXPECT_THROW(SharedHeap::attach(segment.base(), 64 * 1024), std::invalid_argument);
}

TEST(SharedHeap, NamedObjectsAreMadeOnceZeroFilled) {
  SharedHeap heap = SharedHeap::anonymous(128 * 1024);
  auto* a = static_cast<unsigned char*>(heap.find_or_allocate("table", 256));
  ASSERT_NE(a, nullptr);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(a[i], 0);
  EXPECT_EQ(heap.find_or_allocate("table", 256), a);
  EXPECT_EQ(heap.find_or_allocate("table", 512), nullptr);  // bigger than the one there
  EXPECT_EQ(heap.find("table"), a);
  EXPECT_EQ(heap.find("other"), nullptr);
  EXPECT_EQ(heap.find_or_allocate(std::string(SharedHeap::kMaxNameLength + 1, 'x').c_str(), 8), nullptr);
  EXPECT_TRUE(heap.check());
}

TEST(SharedHeap, BadFreesAreCountedAndChangeNothing) {
  SharedHeap heap = SharedHeap::anonymous(128 * 1024);
  auto* p = static_cast<char*>(heap.allocate(64));
  int local = 0;
  heap.deallocate(p);
  heap.deallocate(p);  // double
  heap.deallocate(&local);  // foreign
  auto* q = static_cast<char*>(heap.allocate(64));
  heap.deallocate(q + 16);  // interior
  EXPECT_EQ(heap.bad_frees(), 3u);
  EXPECT_EQ(heap.stats().live_blocks, 1u);
  EXPECT_TRUE(heap.check());
}

TEST(SharedHeap, ReleaseFreesEveryBlockAndName) {
  SharedHeap heap = SharedHeap::anonymous(128 * 1024);
  for (int i = 0; i < 20; ++i) ASSERT_NE(heap.allocate(1000), nullptr);
  ASSERT_NE(heap.find_or_allocate("x", 10), nullptr);
  heap.release();
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.find("x"), nullptr);
  EXPECT_TRUE(heap.check());
}

// ---- several processes ------------------------------------------------------------------

namespace {

constexpr int kWriters = 4;
constexpr int kSlots = 128;

// A writer's inbox: offsets of blocks sent to it, under a process-shared lock.
struct Mailbox {
  ProcessMutex lock;
  std::uint64_t slots[kSlots];
  std::uint32_t head, count;
};
struct Board {
  Mailbox boxes[kWriters];
  std::atomic<std::uint64_t> attempts, sent, received, wrong_bytes, kept, failures;
  std::atomic<int> done;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);  // lock-free atomics work across processes

// A block's first 16 bytes say who wrote it and how big it is; the rest is a pattern
// of both, so the receiver can check every byte.
struct Stamp {
  std::uint32_t writer, seq;
  std::uint64_t size;
};
unsigned char pattern(const Stamp& s, std::size_t i) { return static_cast<unsigned char>(s.writer * 131 + s.seq * 7 + i); }

std::uint64_t wrong_bytes(const unsigned char* block) {
  Stamp s;
  std::memcpy(&s, block, sizeof s);
  std::uint64_t wrong = 0;
  for (std::size_t i = sizeof s; i < s.size; ++i) wrong += block[i] != pattern(s, i);
  return wrong;
}

bool push(Mailbox& box, std::uint64_t offset) {
  box.lock.lock();
  const bool room = box.count < kSlots;
  if (room) box.slots[(box.head + box.count++) % kSlots] = offset;
  box.lock.unlock();
  return room;
}

std::uint64_t pop(Mailbox& box) {
  box.lock.lock();
  std::uint64_t offset = 0;
  if (box.count) {
    offset = box.slots[box.head];
    box.head = (box.head + 1) % kSlots;
    --box.count;
  }
  box.lock.unlock();
  return offset;
}

void receive(SharedHeap& heap, Board& board, int me) {
  while (const std::uint64_t offset = pop(board.boxes[me])) {
    auto* block = static_cast<unsigned char*>(heap.at(offset));
    board.wrong_bytes += wrong_bytes(block);
    heap.deallocate(block);
    ++board.received;
  }
}

// One forked writer: allocate, fill, send to the next writer; receive, check, free.
int writer(SharedHeap& heap, Board& board, int me, std::size_t ops) {
  std::mt19937_64 rng(1000 + me);
  for (std::uint32_t seq = 0; seq < ops; ++seq) {
    if (rng() % 2) {
      ++board.attempts;
      const std::size_t size = sizeof(Stamp) + rng() % 3000;
      auto* block = static_cast<unsigned char*>(heap.allocate(size, rng() % 8 ? 16 : 256));
      if (!block) {
        ++board.failures;
        continue;
      }
      const Stamp s{static_cast<std::uint32_t>(me), seq, size};
      std::memcpy(block, &s, sizeof s);
      for (std::size_t i = sizeof s; i < size; ++i) block[i] = pattern(s, i);
      if (push(board.boxes[(me + 1) % kWriters], heap.offset_of(block))) {
        ++board.sent;
      } else {  // the next writer's inbox is full: check it and free it here
        board.wrong_bytes += wrong_bytes(block);
        heap.deallocate(block);
        ++board.kept;
      }
    } else {
      receive(heap, board, me);
    }
  }
  ++board.done;
  while (board.done.load() < kWriters) receive(heap, board, me);
  receive(heap, board, me);  // whatever came in before the last writer finished
  return 0;
}

}  // namespace

TEST(SharedHeap, ForkedWritersHandBlocksToEachOtherAndEveryByteSurvives) {
  SharedHeap heap = SharedHeap::anonymous(4 << 20);
  auto* board = static_cast<Board*>(heap.find_or_allocate("board", sizeof(Board)));
  ASSERT_NE(board, nullptr);
  new (board) Board{};
  for (auto& box : board->boxes) ASSERT_TRUE(box.lock.init());
  const std::size_t ops = poolkit::test::scaled(200'000);
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = fork();
    if (pid == 0) _exit(writer(heap, *board, w, ops));
    children.push_back(pid);
  }
  for (pid_t pid : children) EXPECT_EQ(wait_for(pid), 0);
  EXPECT_EQ(board->wrong_bytes.load(), 0u);
  EXPECT_EQ(board->sent.load(), board->received.load());
  // Every attempt was sent, kept (the next inbox was full) or failed (the heap was full).
  EXPECT_EQ(board->sent.load() + board->kept.load() + board->failures.load(), board->attempts.load());
  EXPECT_GT(board->sent.load(), 0u);
  for (auto& box : board->boxes) EXPECT_EQ(box.count, 0u);
  EXPECT_TRUE(heap.check());
  const auto s = heap.stats();
  EXPECT_EQ(s.live_blocks, 1u);  // the board
  EXPECT_EQ(s.allocations, board->sent.load() + board->kept.load() + 1);
  EXPECT_EQ(heap.bad_frees(), 0u);
  EXPECT_EQ(heap.owner_deaths(), 0u);
}

TEST(ProcessMutex, TheNextLockerIsToldWhenTheHolderDied) {
  SharedSegment segment = SharedSegment::anonymous(4096);
  auto* mutex = static_cast<ProcessMutex*>(segment.base());
  ASSERT_TRUE(mutex->init());
  const pid_t child = fork();
  if (child == 0) {
    mutex->lock();
    _exit(0);  // dies holding it
  }
  ASSERT_EQ(wait_for(child), 0);
  EXPECT_EQ(mutex->lock(), ProcessMutex::Locked::kOwnerDied);
  mutex->unlock();
  EXPECT_EQ(mutex->lock(), ProcessMutex::Locked::kClean);  // consistent again
  mutex->unlock();
}

TEST(SharedHeap, AProcessKilledWhileAllocatingIsSurvivedOrDetected) {
  // SIGKILL lands between calls, inside one holding the lock, or inside a change. The
  // heap must then be whole (check passes, it serves requests) or say damaged(): never
  // silently broken.
  for (int round = 0; round < 8; ++round) {
    SharedHeap heap = SharedHeap::anonymous(1 << 20);
    const pid_t child = fork();
    if (child == 0) {
      std::mt19937_64 rng(round);
      std::vector<void*> live;
      for (;;) {
        if (live.size() < 200 && rng() % 2) {
          if (void* p = heap.allocate(1 + rng() % 2000)) live.push_back(p);
        } else if (!live.empty()) {
          heap.deallocate(live.back());
          live.pop_back();
        }
      }
    }
    usleep(20000 + 7000 * round);
    kill(child, SIGKILL);
    EXPECT_EQ(wait_for(child), 128 + SIGKILL);
    if (heap.damaged()) {
      EXPECT_EQ(heap.allocate(16), nullptr);
      continue;
    }
    EXPECT_TRUE(heap.check()) << "round " << round;
    void* p = heap.allocate(1000);
    EXPECT_NE(p, nullptr);
    heap.deallocate(p);
  }
}

TEST(SharedHeap, RandomizedAgainstTheModel) {
  const std::uint64_t seed = poolkit::test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PKTEST_SEED to repeat)");
  SharedHeap heap = SharedHeap::anonymous(1 << 20);
  poolkit::test::BlockModel model;
  std::mt19937_64 rng(seed);
  std::size_t failures = 0;
  const std::size_t ops = poolkit::test::scaled(1'000'000);
  for (std::size_t i = 0; i < ops; ++i) {
    if (model.empty() || rng() % 100 < ((i / 20000) % 2 ? 40u : 65u)) {
      const std::size_t size = rng() % 10 ? rng() % 300 : rng() % 30000;
      const std::size_t align = rng() % 8 ? 16 : std::size_t{1} << (rng() % 13);
      const std::size_t largest = heap.stats().largest_free;
      void* p = heap.allocate(size, align);
      if (!p) {
        ++failures;
        ASSERT_GT(size + 16 + (align > 16 ? align + 32 : 0), largest) << "op " << i;
        continue;
      }
      ASSERT_TRUE(model.add(p, size, align, static_cast<std::uint8_t>(rng()))) << "op " << i;
    } else {
      heap.deallocate(model.take_random(rng).p);
    }
    if (i % 2000 == 0) {
      ASSERT_TRUE(heap.check()) << "op " << i;
    }
  }
  EXPECT_GT(failures, 0u);
  model.verify_all();
  while (!model.empty()) heap.deallocate(model.take(model.count() - 1).p);
  EXPECT_EQ(heap.stats().live_blocks, 0u);
  EXPECT_EQ(heap.stats().largest_free + 16, heap.stats().bytes_free);  // merged back into one free block
  EXPECT_TRUE(heap.check());
}
