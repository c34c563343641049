/* Every device the server has seen, keyed by device_id. Devices stay after
 * they disconnect, so a device that reconnects finds its mode again. */
#ifndef OPAL_REGISTRY_H
#define OPAL_REGISTRY_H

#include <stddef.h>

struct device;

typedef struct registry {
  struct device **buckets;
  size_t bucket_count; /* a power of two */
  size_t count;
} registry;

/* The device with `id`, created idle in mode 0 if new; NULL only when out
 * of memory. The registry owns it. */
struct device *registry_get(registry *r, const char *id);

/* The device with `id`, or NULL. */
struct device *registry_find(const registry *r, const char *id);

/* Frees every device and the table. */
void registry_clear(registry *r);

#endif
