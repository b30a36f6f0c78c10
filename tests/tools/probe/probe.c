/* probe.c: a preloadable library for the CLI tests. When loaded it appends one line
 * to the file named by PKTEST_PROBE_OUT: the POOLKIT_STATS and POOLKIT_CHECK it saw.
 * Uses only system calls, no malloc. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(int fd, const char* s) {
  if (s != NULL) {
    ssize_t ignored = write(fd, s, strlen(s));
    (void)ignored;
  }
}

__attribute__((constructor)) static void poolkit_cli_probe_loaded(void) {
  const char* out = getenv("PKTEST_PROBE_OUT");
  if (out == NULL) return;
  int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return;
  const char* stats = getenv("POOLKIT_STATS");
  const char* check = getenv("POOLKIT_CHECK");
  put(fd, "loaded stats=");
  put(fd, stats != NULL ? stats : "unset");
  put(fd, " check=");
  put(fd, check != NULL ? check : "unset");
  put(fd, "\n");
  close(fd);
}
