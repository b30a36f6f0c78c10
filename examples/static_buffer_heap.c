/* static_buffer_heap.c: a microcontroller-style program. All the memory it will
 * ever allocate from is one static array, given to a heap at start-up; after
 * that no call mallocs or makes a system call, and a full heap is an ordinary
 * NULL that the program handles. Exits non-zero if any message comes back wrong. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <poolkit/poolkit.h>

/* 48 KiB of RAM for dynamic data; the heap's handle takes the first ~12 KiB. */
static alignas(16) unsigned char ram[48 * 1024];

struct message {
  uint32_t id;
  uint32_t length;
  unsigned char payload[]; /* length bytes */
};

/* A queue of in-flight messages, as a radio or CAN driver would keep. */
#define QUEUE 64
static struct message* queue[QUEUE];

static uint32_t next_random(uint32_t* state) { /* xorshift: no libc state */
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  return *state;
}

static unsigned char byte_of(uint32_t id, uint32_t i) { return (unsigned char)(id * 31u + i); }

int main(void) {
  poolkit_heap* heap = poolkit_heap_create_in(ram, sizeof ram, NULL);
  if (!heap) {
    fprintf(stderr, "start-up: %s\n", poolkit_last_error());
    return 1;
  }
  uint32_t state = 2463534242u, sent = 0, received = 0, full = 0, wrong = 0;
  for (uint32_t tick = 0; tick < 200000; ++tick) {
    struct message** slot = &queue[next_random(&state) % QUEUE];
    if (*slot) { /* the message was delivered: check it and give its memory back */
      for (uint32_t i = 0; i < (*slot)->length; ++i) wrong += (*slot)->payload[i] != byte_of((*slot)->id, i);
      poolkit_heap_free(heap, *slot);
      *slot = NULL;
      ++received;
    } else { /* a new message of 8..1500 bytes */
      uint32_t length = 8 + next_random(&state) % 1493;
      struct message* m = poolkit_heap_alloc(heap, sizeof *m + length);
      if (!m) { /* the buffer is full for now: drop the message, as a driver would */
        if (errno != ENOMEM) ++wrong;
        ++full;
        continue;
      }
      m->id = tick;
      m->length = length;
      for (uint32_t i = 0; i < length; ++i) m->payload[i] = byte_of(m->id, i);
      *slot = m;
      ++sent;
    }
  }
  poolkit_stats stats;
  poolkit_heap_stats(heap, &stats);
  printf("static buffer of %zu bytes: %u messages sent, %u received, %u dropped on a full heap, %u wrong bytes\n",
         sizeof ram, sent, received, full, wrong);
  poolkit_stats_print(&stats, "static heap", stdout);
  int ok = wrong == 0 && poolkit_heap_check(heap) == 0 && stats.bytes_reserved <= sizeof ram;
  poolkit_heap_destroy(heap); /* nothing to return: the array stays */
  return ok ? 0 : 1;
}
