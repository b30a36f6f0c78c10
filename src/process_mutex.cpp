// process_mutex.cpp: ProcessMutex over a PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST mutex.
#include "poolkit/process_mutex.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace poolkit {

bool ProcessMutex::init() noexcept {
  pthread_mutexattr_t attr;
  int rc = pthread_mutexattr_init(&attr);
  if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&mutex_, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) errno = rc;
  return rc == 0;
}

ProcessMutex::Locked ProcessMutex::lock() noexcept {
  const int rc = pthread_mutex_lock(&mutex_);
  if (rc == 0) return Locked::kClean;
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(&mutex_);  // usable again; the caller checks the data
    return Locked::kOwnerDied;
  }
  // EINVAL/ENOTRECOVERABLE: the memory is not an initialised mutex. Nothing sane to do.
  std::fprintf(stderr, "poolkit: ProcessMutex::lock: pthread_mutex_lock failed (%d): not an initialised mutex\n", rc);
  std::abort();
}

void ProcessMutex::unlock() noexcept { pthread_mutex_unlock(&mutex_); }

void ProcessMutex::destroy() noexcept { pthread_mutex_destroy(&mutex_); }

}  // namespace poolkit
