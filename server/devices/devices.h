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
#include "devices/device_store.h"
#include "devices/registry.h"
#include "sounds/sound_library.h"
#include "store/store.h"

typedef struct devices {
  registry registry;           /* owns every device record */
  device *playing;             /* devices with a sound in progress */
  const sound_library *sounds; /* borrowed, outlives the devices */
  int64_t lead_ns;             /* how far audio runs ahead of real time */
  device_store kept;           /* what outlives the process */
} devices;

/* An empty set that remembers at most `limit` devices (0: no limit) and
 * keeps their records in `st` (borrowed; NULL or "memory": nothing kept). */
void devices_init(devices *ds, const sound_library *sounds, int64_t lead_ns, size_t limit,
                  store *st);

/* The device with `id`, created idle in mode 0 if new; NULL when there is
 * no room (see registry_get). The set owns it. */
device *devices_get(devices *ds, const char *id);

/* Makes the call the device's call of its kind and starts it. Calls of
 * the same kind, and all calls from another connection, are ended with
 * ABORTED: the newest connection takes the device over. The call still
 * owns itself; the device lets go of it when it closes. */
void devices_attach_status(device *d, status_call *c);
void devices_attach_event(device *d, event_call *c);
void devices_attach_audio(device *d, audio_call *c);

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

/* Frees every device (not the store). Every call must have closed first. */
void devices_clear(devices *ds);

#endif
