// poolkit/process_mutex.hpp: a lock that lives in shared memory and works across
// processes (a process-shared, robust pthread mutex). Pick it to guard data that
// several processes map; SharedHeap uses one. When a holder dies, the next locker
// is told (Locked::kOwnerDied) and gets the lock, so a crash is detected, not a hang.
#pragma once

#include <pthread.h>

namespace poolkit {

class ProcessMutex {
 public:
  enum class Locked {
    kClean,      // the usual case
    kOwnerDied,  // the previous holder died holding it: the data it guards may be half-changed
  };

  /// Makes the mutex in place, in memory every user maps (MAP_SHARED): once, by the
  /// process that creates the shared data, before any other maps it. False if
  /// pthread refuses (errno set).
  bool init() noexcept;
  /// Blocks until held. kOwnerDied: the lock is held and usable again, but the
  /// caller must check (and repair or give up on) what it guards.
  Locked lock() noexcept;
  void unlock() noexcept;
  /// Destroys it in place (when no process uses it any more).
  void destroy() noexcept;

 private:
  pthread_mutex_t mutex_;
};

}  // namespace poolkit
