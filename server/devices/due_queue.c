#include "devices/due_queue.h"

#include <stdlib.h>

void due_queue_init(due_queue *q) { *q = (due_queue){0}; }

void due_queue_clear(due_queue *q) {
  for (size_t i = 0; i < q->count; i++) q->heap[i]->slot = 0;
  free(q->heap);
  *q = (due_queue){0};
}

bool due_queue_reserve(due_queue *q, size_t n) {
  if (n <= q->capacity) return true;
  size_t cap = q->capacity ? q->capacity : 64;
  while (cap < n) cap *= 2;
  due_item **heap = realloc(q->heap, cap * sizeof *heap);
  if (!heap) return false;
  q->heap = heap;
  q->capacity = cap;
  return true;
}

static void place(due_queue *q, due_item *it, size_t i) {
  q->heap[i] = it;
  it->slot = i + 1;
}

/* Moves the item at `i` towards the root while it is due before its parent. */
static void sift_up(due_queue *q, size_t i) {
  due_item *it = q->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (q->heap[parent]->due_ns <= it->due_ns) break;
    place(q, q->heap[parent], i);
    i = parent;
  }
  place(q, it, i);
}

/* Moves the item at `i` down while a child is due before it. */
static void sift_down(due_queue *q, size_t i) {
  due_item *it = q->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= q->count) break;
    if (child + 1 < q->count && q->heap[child + 1]->due_ns < q->heap[child]->due_ns) child++;
    if (it->due_ns <= q->heap[child]->due_ns) break;
    place(q, q->heap[child], i);
    i = child;
  }
  place(q, it, i);
}

bool due_queue_set(due_queue *q, due_item *it, int64_t due_ns) {
  if (!due_item_queued(it)) {
    if (!due_queue_reserve(q, q->count + 1)) return false;
    it->due_ns = due_ns;
    place(q, it, q->count++);
    sift_up(q, it->slot - 1);
    return true;
  }
  int64_t before = it->due_ns;
  it->due_ns = due_ns;
  if (due_ns < before) sift_up(q, it->slot - 1);
  else sift_down(q, it->slot - 1);
  return true;
}

void due_queue_remove(due_queue *q, due_item *it) {
  if (!due_item_queued(it)) return;
  size_t i = it->slot - 1;
  it->slot = 0;
  due_item *last = q->heap[--q->count];
  if (i == q->count) return; /* it was the last */
  place(q, last, i);
  /* The moved item may belong above or below its new place. */
  if (i > 0 && q->heap[(i - 1) / 2]->due_ns > last->due_ns) sift_up(q, i);
  else sift_down(q, i);
}

due_item *due_queue_pop_due(due_queue *q, int64_t by_ns) {
  due_item *first = due_queue_first(q);
  if (!first || first->due_ns > by_ns) return NULL;
  due_queue_remove(q, first);
  return first;
}
