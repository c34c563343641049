/* One device as the server sees it: its state, its open calls, and the
 * sound it is playing. Owned by the registry; touched only by the loop. */
#ifndef OPAL_DEVICE_H
#define OPAL_DEVICE_H

#include <stdint.h>

#include "device_id.h"
#include "device_machine.h"
#include "packet_digest.h"
#include "rpc_call.h"
#include "sound.h"

/* A sound in progress: a cursor into a shared packet list. */
typedef struct playback {
  const sound *sound; /* NULL when nothing plays */
  unsigned mode;
  size_t next;      /* the next packet to send */
  int64_t start_ns; /* when packet 0 was due, before the lead */
  packet_digest sent; /* what the device got of this sound, for the log */
  /* A stopped or preempted sound still owes the device its is_end packet,
   * sent before anything else. */
  const sound *ending;
  size_t ending_index;
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
} device;

/* Makes `c` the device's call of its kind. Calls of the same kind, and all
 * calls from another connection, are ended with ABORTED: the newest
 * connection takes the device over. */
void device_attach(device *d, rpc_call *c);

/* Forgets `c` (it closed). A device whose last call goes is disconnected;
 * its state stays in the registry. */
void device_detach(device *d, rpc_call *c);

/* Carries out the effects of a state-machine outcome: LED update, ending
 * and starting sounds. `reason` names why a sound ends, for the log. */
void device_apply(device *d, unsigned effects, const char *reason);

#endif
