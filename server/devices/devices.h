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
#include "devices/due_queue.h"
#include "log_throttle.h"
#include "devices/new_devices.h"
#include "devices/pacing_lag.h"
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
  /* This set forgot `id` (NULL: nothing to tell). */
  void (*release)(void *ctx, const char *id);
} devices_owner_hooks;

/* What the set refused and gave back, logged at shutdown; a plain struct
 * so that an exporter (issue 11) can read it later. Loop thread. */
typedef struct devices_counts {
  uint64_t refused_full;   /* a new device, with no room and nothing to forget */
  uint64_t refused_rate;   /* a new device over --new-devices-per-ip */
  uint64_t refused_memory; /* a new device, with the server out of memory */
  uint64_t trims;          /* memory handed back to the system (malloc_trim) */
  uint64_t refused_streams; /* a Play (ack=false) at --max-streams */
  uint64_t refused_lag;     /* a Play (ack=false) with pacing late past --max-pacing-lag-ms */
} devices_counts;

/* A packet goes out up to this long before it is due, never after (but
 * for a late loop): the loop then wakes at most once per this period for
 * every stream's packets that fall due within it, as the tick that
 * scanned every playing device did, and the device holds at most this
 * much more than the lead. */
#define DEVICES_PACING_EARLY_NS (10 * 1000000LL)

/* How often disconnected devices are looked at for forgetting. */
#define DEVICES_SWEEP_NS (1000 * 1000000LL)
/* Forgotten devices after which freed memory is handed back to the system:
 * glibc keeps small freed chunks otherwise, and a flood that went would
 * leave its memory with the process. */
#define DEVICES_TRIM_AFTER 1000

typedef struct devices {
  registry registry;           /* owns every device record */
  device *playing;             /* devices with a sound in progress */
  size_t streams;              /* how many: the length of `playing` */
  due_queue due;               /* playing devices by their next packet's due time */
  /* Overload: past either, a new Play is refused with ack=false. */
  size_t max_streams;          /* 0: no bound */
  int64_t max_lag_ns;          /* 0: no bound */
  pacing_lag lag;              /* whether packets went out late, lastingly */
  log_throttle play_log;       /* refused Plays */
  const sound_library *sounds; /* borrowed, outlives the devices */
  int64_t lead_ns;             /* how far audio runs ahead of real time */
  device_store kept;           /* what outlives the process */
  devices_owner_hooks owner;   /* several workers: who serves a device */
  const char *log_tag;         /* "" or " worker=N", after connect lines */
  new_devices *new_devices;    /* borrowed, shared by the workers; NULL: no rate */
  devices_counts counts;
  log_throttle full_log;    /* refusals for want of room */
  int64_t next_sweep_ns;
  uint64_t forgotten_at_trim; /* registry.forgotten at the last trim */
  device_log_limit log_limit;  /* per device, over this set's devices */
} devices;

/* An empty set that remembers at most `limit` devices (0: no limit),
 * keeps their records in `st` (borrowed; NULL or "memory": nothing kept)
 * and takes new devices at the rate `rate` allows (borrowed; NULL: any). */
void devices_init(devices *ds, const sound_library *sounds, int64_t lead_ns, size_t limit,
                  store *st, new_devices *rate);

/* At most `rate` log lines a second per device (0: no limit; the default
 * is DEVICE_LOG_DEFAULT_RATE), and the counts of what was left out. */
void devices_limit_logs(devices *ds, unsigned rate);
/* Writes the counts of left-out lines that are due; call it often. */
void devices_log_work(devices *ds, int64_t now_ns);

/* The device with `id`, for a call from `peer` (rpc_call's peer string),
 * created idle in mode 0 if new. NULL when a new device cannot be taken:
 * its peer brings new devices faster than the rate, or the registry is
 * full and no disconnected device can be forgotten without losing its
 * mode (forget_rule.h), or out of memory; `why` (of `why_len` bytes) then
 * says which, for the call's RESOURCE_EXHAUSTED. The set owns the device. */
device *devices_get(devices *ds, const char *id, const char *peer, char *why, size_t why_len);

/* Makes the call the device's call of its kind and starts it. Calls of
 * the same kind, and all calls from another connection (device_link.h;
 * `via` is the call's opal-client-connection header, "" for none), are
 * ended with ABORTED: the newest connection takes the device over. The
 * call still owns itself; the device lets go of it when it closes. */
void devices_attach_status(device *d, status_call *c, const char *via);
void devices_attach_event(device *d, event_call *c, const char *via);
void devices_attach_audio(device *d, audio_call *c, const char *via);

/* Overload (docs/architecture.md, "Overload"): at `max_streams` sounds in
 * progress, or with most packets going out more than `max_lag_ns` late for
 * a second or more (pacing_lag.h), a Play that would start a new stream is refused
 * with ack=false, logged now and then, and counted. 0: no such bound. */
void devices_limit_streams(devices *ds, size_t max_streams, int64_t max_lag_ns);

/* True while any device has a sound in progress. */
static inline bool devices_playing(const devices *ds) { return ds->playing != NULL; }

/* When the loop must next call devices_tick: the earliest due packet of a
 * device whose call is free; INT64_MAX for none. */
static inline int64_t devices_next_due_ns(const devices *ds) { return due_queue_next_ns(&ds->due); }

/* Sends the packets due now (and those due within DEVICES_PACING_EARLY_NS)
 * to the devices that have one; the others are not looked at. Call it
 * after every loop event: it costs nothing when none is due. */
void devices_tick(devices *ds);

/* The store's work (writes due, loads that waited too long), and every
 * DEVICES_SWEEP_NS the sweep: disconnected devices forgotten by
 * forget_rule.h, the table shrunk, memory handed back. */
void devices_store_work(devices *ds, int64_t now_ns);
/* When devices_store_work next has work; INT64_MAX for never. */
int64_t devices_store_deadline(const devices *ds);
/* A record the store loaded (store_loaded_fn; `ctx` is the devices). */
void devices_loaded(void *ctx, const char *id, const store_record *record);
/* A record another worker handed over: taken as a loaded one, and written
 * again through this set's store, which must vouch for it before the
 * device may be forgotten. */
void devices_handed(devices *ds, const char *id, const store_record *record);
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

/* Frees every device (not the store) and logs the counts. Every call must
 * have closed first. */
void devices_clear(devices *ds);

#endif
