/* Which worker of this process serves each device (--workers K): the one
 * table the workers share, so that exactly one of them owns a device. A
 * worker claims a device when one of the device's connections reaches it;
 * the claim says which worker had it, so that one can hand it over.
 *
 * Any thread: every call takes the table's lock, briefly. Only a device's
 * first call on a connection claims; nothing on the streaming path does. */
#ifndef OPAL_OWNERS_H
#define OPAL_OWNERS_H

#include <stdint.h>

typedef struct owners owners;

/* The caller owns the result. NULL when out of memory. */
owners *owners_create(void);
void owners_destroy(owners *o);

/* Makes `worker` the owner of `id`. Returns the worker that owned it
 * before, or -1 for none. */
int owners_claim(owners *o, const char *id, int worker);

/* `worker` forgot `id`: the entry goes if that worker still owns it (so a
 * flood of ids does not stay in this table after the workers forgot them). */
void owners_release(owners *o, const char *id, int worker);

#endif
