/* The playing devices ordered by when their next packet is due: a binary
 * min-heap of items embedded in their owners, so the loop sleeps until the
 * earliest due packet and touches only the devices that have one due,
 * instead of looking at every playing device on every tick. Each item
 * knows its place in the heap, so moving or removing one is O(log n).
 * Plain data, one thread. */
#ifndef OPAL_DUE_QUEUE_H
#define OPAL_DUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in whatever is scheduled (a device); container_of gets it back. */
typedef struct due_item {
  int64_t due_ns;
  /* Its place in the heap plus one; 0 when not queued, so that an item
   * in zeroed memory (a new device) is not queued. */
  size_t slot;
} due_item;

typedef struct due_queue {
  due_item **heap; /* owned; the items are borrowed */
  size_t count, capacity;
} due_queue;

void due_queue_init(due_queue *q);
/* Frees the heap, not the items (they are left marked as not queued). */
void due_queue_clear(due_queue *q);

static inline bool due_item_queued(const due_item *it) { return it->slot != 0; }

/* Room for `n` items in all, so that due_queue_set cannot fail for up to
 * that many. False when out of memory. */
bool due_queue_reserve(due_queue *q, size_t n);

/* Queues `it` at `due_ns`, or moves it there if queued. False (and
 * nothing changed) when a new item finds no room and memory runs out. */
bool due_queue_set(due_queue *q, due_item *it, int64_t due_ns);

/* Takes `it` out, if queued. */
void due_queue_remove(due_queue *q, due_item *it);

/* The earliest item, or NULL when empty. */
static inline due_item *due_queue_first(const due_queue *q) {
  return q->count ? q->heap[0] : NULL;
}

/* When the earliest item is due; INT64_MAX when empty. */
static inline int64_t due_queue_next_ns(const due_queue *q) {
  return q->count ? q->heap[0]->due_ns : INT64_MAX;
}

/* Takes out and returns the earliest item if it is due by `by_ns`, else
 * NULL. */
due_item *due_queue_pop_due(due_queue *q, int64_t by_ns);

#endif
