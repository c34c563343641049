/* Every device the server has seen, keyed by device_id, up to `limit`.
 *
 * A device with no open call stays, so that it finds its mode again when
 * it reconnects, on one of two lists in the order it joined them: `spare`
 * (forgetting it would lose nothing, as its owner judged when it went
 * there) and `kept` (it would). Its owner's judgement can change later (a
 * late record, a write confirmed), so the registry asks again, through a
 * registry_check_fn, before it forgets any device: a spare device that
 * says no goes to `kept`, and only the owner moves a device back
 * (registry_spare). A kept device is never forgotten. */
#ifndef OPAL_REGISTRY_H
#define OPAL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device;

/* True when forgetting `d` now loses nothing. */
typedef bool (*registry_check_fn)(const struct device *d, void *ctx);
/* `d` is about to be freed: its owner lets go of what it holds. */
typedef void (*registry_forget_fn)(struct device *d, void *ctx);

typedef struct registry_hooks {
  registry_check_fn can_forget;
  registry_forget_fn forgetting;
  void *ctx;
} registry_hooks;

typedef struct device_list {
  struct device *head, *tail; /* head: on the list longest */
} device_list;

typedef struct registry {
  struct device **buckets;
  size_t bucket_count; /* a power of two, or 0 */
  size_t count;
  size_t limit; /* 0: no limit */
  device_list spare, kept; /* devices with no open call */
  registry_hooks hooks;
  uint64_t forgotten; /* devices forgotten so far, for the counters */
} registry;

/* An empty registry of at most `limit` devices (0: no limit) that asks
 * hooks->can_forget before forgetting one, and tells hooks->forgetting
 * (copied). */
void registry_init(registry *r, size_t limit, const registry_hooks *hooks);

/* The device with `id`, or NULL. */
struct device *registry_find(const registry *r, const char *id);

/* A new device for `id` (not in the registry), idle in mode 0, counted
 * as connected. At the limit, the spare device listed longest that may be
 * forgotten is, to make room. NULL when there is none (*full is then
 * true) or out of memory (*full false). The registry owns the device. */
struct device *registry_add(registry *r, const char *id, bool *full);

/* The device's last call closed: it joins `spare` or `kept` at `now_ns`. */
void registry_offline(registry *r, struct device *d, bool spare, int64_t now_ns);
/* An offline device on `kept` that may be forgotten now joins `spare`. */
void registry_spare(registry *r, struct device *d, int64_t now_ns);
/* The device has an open call again: it leaves its list. */
void registry_online(registry *r, struct device *d);

/* Frees `d`, after hooks->forgetting. */
void registry_forget(registry *r, struct device *d);

/* Forgets the spare devices that joined before `before_ns` and may be
 * forgotten; the others move to `kept`. How many were forgotten. */
size_t registry_sweep(registry *r, int64_t before_ns);

/* Halves the table while it is more than 8 times the devices (down to 64
 * buckets), so a flood that went gives its table back. */
void registry_shrink(registry *r);

/* Frees every device and the table; the limit and check stay. */
void registry_clear(registry *r);

#endif
