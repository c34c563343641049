/* A growable array of fixed-size items, copied in and out by value: the
 * queues of the store and of the loop mailboxes, and the store's batches.
 * The array owns its items' memory; it runs out of memory only by
 * aborting, since its users are queues the program cannot go on without. */
#ifndef OPAL_ITEM_ARRAY_H
#define OPAL_ITEM_ARRAY_H

#include <stddef.h>

typedef struct item_array {
  void *items;
  size_t len, cap, size;
} item_array;

/* An empty array of `size`-byte items. */
void item_array_init(item_array *a, size_t size);

/* The address of item `i` (< len), valid until the array next grows. */
void *item_array_at(const item_array *a, size_t i);

/* Copies `n` items in at the end. */
void item_array_append(item_array *a, const void *items, size_t n);

/* Moves everything out of `from` into `to`, leaving `from` empty. */
void item_array_take(item_array *from, item_array *to);

/* Forgets the first `n` items. */
void item_array_drop_front(item_array *a, size_t n);

/* Forgets item `i` (< len); the last item takes its place. */
void item_array_remove(item_array *a, size_t i);

/* Frees the items; the array is empty and usable again. */
void item_array_free(item_array *a);

#endif
