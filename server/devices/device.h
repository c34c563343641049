/* One device as the server sees it: its state, its open calls, and the
 * sound it is playing. Owned by the registry; touched only by the loop. */
#ifndef OPAL_DEVICE_H
#define OPAL_DEVICE_H

#include <stdint.h>

#include "device_id.h"
#include "devices/device_machine.h"
#include "packet_digest.h"
#include "rpc/rpc_call.h"
#include "sounds/sound.h"

/* A sound being sent: a cursor into a shared packet list, and what the
 * device has been sent of it (logged, with its digest, at the end). */
typedef struct sound_cursor {
  const sound *sound; /* NULL when none */
  unsigned mode;
  size_t next; /* the next packet to send */
  packet_digest sent;
} sound_cursor;

typedef struct playback {
  sound_cursor current;
  int64_t start_ns; /* when the current sound's packet 0 was due, before the lead */
  /* A stopped or preempted sound still owes the device its is_end packet,
   * sent before anything else. */
  sound_cursor ending;
  const char *ending_reason;
} playback;

struct opal_server;

typedef struct device {
  char id[DEVICE_ID_MAX_LEN + 1];
  struct opal_server *server; /* set when its first call attaches */
  device_state state;
  rpc_call *calls[CALL_KIND_COUNT]; /* the open call of each kind, or NULL */
  playback playback;
  struct device *playing_prev, *playing_next; /* server->playing list */
  struct device *hash_next;                   /* registry bucket chain */
  bool offline; /* no open call: on the registry's offline list */
  struct device *offline_prev, *offline_next;
} device;

/* Makes `c` the device's call of its kind. Calls of the same kind, and all
 * calls from another connection, are ended with ABORTED: the newest
 * connection takes the device over. */
void device_attach(device *d, rpc_call *c);

/* Forgets `c` (it closed). A device whose last call goes is disconnected;
 * its state stays in the registry (until the registry needs the room). */
void device_detach(device *d, rpc_call *c);

/* Carries out the effects of a state-machine outcome: LED update, ending
 * and starting sounds. `reason` names why a sound ends, for the log. */
void device_apply(device *d, unsigned effects, const char *reason);

#endif
