/* The rate of new devices per peer (--new-devices-per-ip): a token bucket
 * per peer address (peer_key.h), taken from when a call brings a
 * device id the registry does not have. One table per process, shared by
 * every worker under a lock: a host's connections reach the workers by
 * the kernel's hash of their ports, so a rate divided per worker would
 * refuse a host whose connections happen to land on one worker. The lock
 * is taken only for a new id, never on the streaming path.
 *
 * The table has a fixed number of slots: a peer takes a free slot, or one
 * whose bucket is full again (idle); when every slot it may use is busy it
 * shares the first one's bucket, so a flood from many addresses is still
 * bounded, never the table's memory. Slots are picked by a keyed hash, so
 * no peer can aim at another's slot. */
#ifndef OPAL_NEW_DEVICES_H
#define OPAL_NEW_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/token_bucket.h"

/* The default: a fleet of 1,000 devices ramping at 1,000/s from one host
 * (opal-device --fleet 1000 --ramp 1000) connects within its burst, and a
 * site behind one NAT address can bring 1,000 new devices a second. */
#define NEW_DEVICES_DEFAULT_PER_S 1000.0
#define NEW_DEVICES_DEFAULT_BURST 2000.0

typedef struct new_devices new_devices;

/* A table for `rate` (copied; per_s 0: every new device is admitted).
 * The caller owns it and frees it with new_devices_free. Aborts when out
 * of memory (it is made at start-up). */
new_devices *new_devices_create(const token_rate *rate);
void new_devices_free(new_devices *nd);

/* Takes a token for a new device from `peer` (rpc_call's peer string) at
 * `now_ns`. False when that peer is over its rate: `why` then says so,
 * for the caller's RESOURCE_EXHAUSTED, and the refusal is logged (once
 * per LOG_THROTTLE_PERIOD_NS, with a count). NULL `nd` admits all. Any
 * thread. */
bool new_devices_take(new_devices *nd, const char *peer, int64_t now_ns, char *why,
                      size_t why_len);

#endif
