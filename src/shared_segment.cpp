// shared_segment.cpp: SharedSegment over shm_open / memfd_create and mmap(MAP_SHARED).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // memfd_create
#endif
#include "poolkit/shared_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace poolkit {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// POSIX leaves names other than "/something" implementation-defined: refuse them here.
void check_name(const std::string& name) {
  if (name.size() < 2 || name.size() > 251 || name[0] != '/' || name.find('/', 1) != std::string::npos)
    throw std::invalid_argument("SharedSegment: the name \"" + name +
                                "\" is not \"/\" followed by 1 to 250 characters without \"/\"");
}

}  // namespace

SharedSegment::SharedSegment(int fd, std::size_t size) : size_(size), fd_(fd) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int error = errno;
    close(fd);
    errno = error;
    fail("SharedSegment: mmap of " + std::to_string(size) + " bytes");
  }
  base_ = p;
}

SharedSegment SharedSegment::create(const std::string& name, std::size_t size) {
  check_name(name);
  if (size == 0) throw std::invalid_argument("SharedSegment: size 0");
  const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) fail("SharedSegment: shm_open(\"" + name + "\", O_CREAT | O_EXCL)");
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int error = errno;
    close(fd);
    shm_unlink(name.c_str());
    errno = error;
    fail("SharedSegment: ftruncate(\"" + name + "\")");
  }
  try {
    return SharedSegment(fd, size);
  } catch (...) {
    shm_unlink(name.c_str());
    throw;
  }
}

SharedSegment SharedSegment::open(const std::string& name) {
  check_name(name);
  const int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) fail("SharedSegment: shm_open(\"" + name + "\")");
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    const int error = st.st_size <= 0 ? EINVAL : errno;
    close(fd);
    errno = error;
    fail("SharedSegment: the segment \"" + name + "\" is empty or cannot be read");
  }
  return SharedSegment(fd, static_cast<std::size_t>(st.st_size));
}

SharedSegment SharedSegment::anonymous(std::size_t size) {
  if (size == 0) throw std::invalid_argument("SharedSegment: size 0");
  const int fd = memfd_create("poolkit-shared", MFD_CLOEXEC);
  if (fd < 0) fail("SharedSegment: memfd_create");
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int error = errno;
    close(fd);
    errno = error;
    fail("SharedSegment: ftruncate");
  }
  return SharedSegment(fd, size);
}

bool SharedSegment::remove(const std::string& name) noexcept { return shm_unlink(name.c_str()) == 0; }

SharedSegment SharedSegment::map_again() const {
  if (fd_ < 0) throw std::invalid_argument("SharedSegment: map_again of a segment that maps nothing");
  const int fd = dup(fd_);
  if (fd < 0) fail("SharedSegment: dup");
  return SharedSegment(fd, size_);
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)), fd_(std::exchange(other.fd_, -1)) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    reset();
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

SharedSegment::~SharedSegment() { reset(); }

void SharedSegment::reset() noexcept {
  if (base_) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

}  // namespace poolkit
