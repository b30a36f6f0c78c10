// common/assert.cpp: the one place a failed PK_ASSERT ends up (see assert.hpp).
#include "common/assert.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace poolkit::detail {
namespace {
void put(const char* s) noexcept {
  std::size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}
void put_number(int value) noexcept {
  char digits[16];
  int i = sizeof digits - 1;
  digits[i] = '\0';
  unsigned v = value < 0 ? 0u : static_cast<unsigned>(value);
  do {
    digits[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  put(digits + i);
}
}  // namespace

void assertion_failed(const char* expr, const char* file, int line,
                      const char* function) noexcept {
  put("poolkit: internal assertion failed: ");
  put(expr);
  put("\n  in ");
  put(function);
  put(" at ");
  put(file);
  put(":");
  put_number(line);
  put("\n");
  std::abort();
}
}  // namespace poolkit::detail
