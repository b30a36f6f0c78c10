/* c_check.h: the check macro every C test shares. CHECK(cond) prints a failed
 * condition with its file and line and counts it in `failures`; each test's main
 * returns non-zero when failures is. */
#ifndef POOLKIT_TESTS_C_CHECK_H
#define POOLKIT_TESTS_C_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

#endif /* POOLKIT_TESTS_C_CHECK_H */
