/* When the server may forget a device (issue 9): never at the cost of its
 * mode. A device with no open call may be forgotten when
 *   - another worker serves it now (`foreign`): its record is there; or
 *   - with a persistent store (SQLite, Redis), the store confirmed it holds
 *     the device's latest version (written_version, device_store.h); or
 *   - with nothing kept (--store memory), its mode is 0, which is what a
 *     device that comes back without a record gets anyway.
 * Never while its record is on its way to it (`loading`). Of those, a
 * device nothing of which is anywhere (foreign, or never changed, or
 * nothing kept) goes at once when its last call closes; one whose record
 * is in the store stays DEVICES_FORGET_AFTER_NS, so a device that
 * reconnects soon does not wait for a load, unless the registry needs its
 * room sooner. Pure functions of the device's fields. */
#ifndef OPAL_FORGET_RULE_H
#define OPAL_FORGET_RULE_H

#include <stdbool.h>

#include "devices/device.h"

/* How long a disconnected device whose record is in the store stays, at
 * most, when the registry does not need its room: 10 minutes, longer than
 * a device's usual reconnect after a network drop, short enough that a
 * flood of ids that each set a mode is gone soon after. */
#define DEVICES_FORGET_AFTER_NS (600 * 1000000000LL)

/* Forgetting `d` now loses nothing; `kept`: the store is persistent. */
static inline bool forget_loses_nothing(const device *d, bool kept) {
  if (!d->offline || d->loading || d->state.playing) return false;
  if (d->foreign) return true;
  return kept ? d->written_version >= d->version : d->state.mode == 0;
}

/* ...and nothing of it is anywhere, so it goes as soon as it disconnects. */
static inline bool forget_at_once(const device *d, bool kept) {
  return forget_loses_nothing(d, kept) && (d->foreign || !kept || d->version == 0);
}

#endif
