/* Every device, and what happens to them: calls attaching and closing,
 * button events run through the state machine, its effects carried out,
 * sounds paced. This is the one place that runs the machine and applies
 * its effects; the calls below only report (a button, a free stream, a
 * close) and playback only sends. */
#ifndef OPAL_DEVICES_H
#define OPAL_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls/audio_call.h"
#include "calls/event_call.h"
#include "calls/status_call.h"
#include "devices/device.h"
#include "devices/device_log_limit.h"
#include "devices/device_store.h"
#include "devices/registry.h"
#include "sounds/sound_library.h"
#include "store/store.h"

/* With several workers in one process, the one that a device's new
 * connection reaches claims it from whichever worker had it. */
typedef struct devices_owner_hooks {
  void *ctx;
  /* Claims `id` for this set. True when another set had it: its record
   * then comes through devices_loaded, or devices_handover_none. */
  bool (*claim)(void *ctx, const char *id);
} devices_owner_hooks;

typedef struct devices {
  registry registry;           /* owns every device record */
  device *playing;             /* devices with a sound in progress */
  const sound_library *sounds; /* borrowed, outlives the devices */
  int64_t lead_ns;             /* how far audio runs ahead of real time */
  device_store kept;           /* what outlives the process */
  devices_owner_hooks owner;   /* several workers: who serves a device */
  const char *log_tag;         /* "" or " worker=N", after connect lines */
  device_log_limit log_limit;  /* per device, over this set's devices */
} devices;

/* An empty set that remembers at most `limit` devices (0: no limit) and
 * keeps their records in `st` (borrowed; NULL or "memory": nothing kept). */
void devices_init(devices *ds, const sound_library *sounds, int64_t lead_ns, size_t limit,
                  store *st);

/* At most `rate` log lines a second per device (0: no limit; the default
 * is DEVICE_LOG_DEFAULT_RATE), and the counts of what was left out. */
void devices_limit_logs(devices *ds, unsigned rate);
/* Writes the counts of left-out lines that are due; call it often. */
void devices_log_work(devices *ds, int64_t now_ns);

/* The device with `id`, created idle in mode 0 if new; NULL when there is
 * no room (see registry_get). The set owns it. */
device *devices_get(devices *ds, const char *id);

/* Makes the call the device's call of its kind and starts it. Calls of
 * the same kind, and all calls from another connection (device_link.h;
 * `via` is the call's opal-client-connection header, "" for none), are
 * ended with ABORTED: the newest connection takes the device over. The
 * call still owns itself; the device lets go of it when it closes. */
void devices_attach_status(device *d, status_call *c, const char *via);
void devices_attach_event(device *d, event_call *c, const char *via);
void devices_attach_audio(device *d, audio_call *c, const char *via);

/* True while any device has a sound in progress (the loop then ticks). */
static inline bool devices_playing(const devices *ds) { return ds->playing != NULL; }

/* Sends what is due to every playing device; called on each loop tick. */
void devices_tick(devices *ds);

/* The store's work: writes due, loads that waited too long. */
void devices_store_work(devices *ds, int64_t now_ns);
/* When devices_store_work next has work; INT64_MAX for never. */
int64_t devices_store_deadline(const devices *ds);
/* A record the store loaded (store_loaded_fn; `ctx` is the devices). */
void devices_loaded(void *ctx, const char *id, const store_record *record);
/* Hands every change to the store now (shutdown). */
void devices_store_flush(devices *ds);

/* Several workers: how this set claims devices, and the tag its connect
 * log lines end with. Both borrowed. */
void devices_set_owner(devices *ds, const devices_owner_hooks *owner, const char *log_tag);

/* Another worker or replica claimed `id`: its calls here end with ABORTED
 * ("device_id ID was taken over by " and `by`), and *out is what this set
 * knew of it. False when the device is not served here, or was still
 * waiting for its record (then the new owner asks the store). */
bool devices_release(devices *ds, const char *id, const char *by, store_record *out);

/* The worker asked for `id`'s record had none: load it from the store. */
void devices_handover_none(devices *ds, const char *id);

/* Frees every device (not the store). Every call must have closed first. */
void devices_clear(devices *ds);

#endif
