/* Every device the server has seen, keyed by device_id. Devices stay after
 * they disconnect, so a device that reconnects finds its mode again, up to
 * `limit` devices: past it, the device disconnected longest is forgotten. */
#ifndef OPAL_REGISTRY_H
#define OPAL_REGISTRY_H

#include <stddef.h>

struct device;

typedef struct registry {
  struct device **buckets;
  size_t bucket_count; /* a power of two */
  size_t count;
  size_t limit; /* 0: no limit */
  /* Devices with no open call, longest disconnected first. */
  struct device *offline_head, *offline_tail;
} registry;

/* The device with `id`, created idle in mode 0 if new. NULL when out of
 * memory, or at the limit with every device connected. The registry owns
 * it; a new device counts as connected until registry_offline. */
struct device *registry_get(registry *r, const char *id);

/* The device has no open call left / has one again. */
void registry_offline(registry *r, struct device *d);
void registry_online(registry *r, struct device *d);

/* The device with `id`, or NULL. */
struct device *registry_find(const registry *r, const char *id);

/* Frees every device and the table. */
void registry_clear(registry *r);

#endif
