/* One device as the server remembers it: its state, its open call of each
 * kind, and the sounds it is being sent. A plain record: the registry owns
 * it, devices.c changes it, and only the loop thread touches it. */
#ifndef OPAL_DEVICE_H
#define OPAL_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls/audio_call.h"
#include "calls/event_call.h"
#include "calls/status_call.h"
#include "device_id.h"
#include "devices/device_link.h"
#include "devices/device_log_limit.h"
#include "devices/device_machine.h"
#include "devices/due_queue.h"
#include "devices/playback.h"

struct devices;

typedef struct device {
  char id[DEVICE_ID_MAX_LEN + 1];
  struct devices *devices; /* the set it belongs to (devices.h) */
  device_log log;          /* its lines, limited by its set's limit */
  device_state state;
  /* Kept in the store (devices/device_store.h). While `loading`, its calls
   * are attached but not started. `version` counts its changes. */
  bool loading;
  bool foreign; /* handed over to another worker: claim it back before use */
  int64_t load_started_ns;
  uint64_t version;
  /* The newest version the store said it holds (written, or found there):
   * with a store, forgetting the device loses nothing while this is
   * `version` (devices.c, devices_can_forget). */
  uint64_t written_version;
  uint64_t ready_version; /* its version when it stopped waiting for a record */
  uint64_t batch_gen; /* in the store's current batch when equal to its batch_gen */
  size_t batch_index;
  /* Its open call of each kind, or NULL. Each call owns itself and tells
   * the device when it closes. */
  status_call *status;
  event_call *event;
  audio_call *audio;
  device_link link; /* the connection its calls come from */
  playback playback;
  struct device *playing_prev, *playing_next; /* on devices->playing */
  /* On devices->due at its next packet's due time, while it plays and its
   * audio call is free; a busy call pumps it again when it is free. */
  due_item due;
  struct device *hash_next;                   /* registry bucket chain */
  /* No open call: on the registry's `spare` or `kept` list (registry.h),
   * which it joined at `listed_ns`. */
  bool offline, spare;
  int64_t listed_ns;
  struct device *offline_prev, *offline_next;
} device;

#endif
