#include "item_array.h"

#include <stdlib.h>
#include <string.h>

void item_array_init(item_array *a, size_t size) { *a = (item_array){.size = size}; }

void *item_array_at(const item_array *a, size_t i) { return (char *)a->items + i * a->size; }

void item_array_append(item_array *a, const void *items, size_t n) {
  if (n == 0) return; /* memcpy's source may not be NULL, even for 0 bytes */
  if (a->len + n > a->cap) {
    size_t cap = a->cap ? a->cap : 64;
    while (cap < a->len + n) cap *= 2;
    void *grown = realloc(a->items, cap * a->size);
    if (!grown) abort();
    a->items = grown;
    a->cap = cap;
  }
  memcpy(item_array_at(a, a->len), items, n * a->size);
  a->len += n;
}

void item_array_take(item_array *from, item_array *to) {
  *to = *from;
  item_array_init(from, to->size);
}

void item_array_drop_front(item_array *a, size_t n) {
  memmove(a->items, item_array_at(a, n), (a->len - n) * a->size);
  a->len -= n;
}

void item_array_remove(item_array *a, size_t i) {
  if (i + 1 < a->len) memcpy(item_array_at(a, i), item_array_at(a, a->len - 1), a->size);
  a->len--;
}

void item_array_free(item_array *a) {
  free(a->items);
  item_array_init(a, a->size);
}
