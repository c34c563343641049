/* The device_id metadata value: the key of all per-device state. */
#ifndef OPAL_DEVICE_ID_H
#define OPAL_DEVICE_ID_H

#include <stddef.h>

#define DEVICE_ID_MAX_LEN 64

/* NULL when `id` (not NUL-terminated, `len` bytes) is a usable device id;
 * otherwise a static sentence saying what is wrong with it. */
const char *device_id_problem(const char *id, size_t len);

/* A hash of a NUL-terminated id, for the tables keyed by device_id (FNV-1a:
 * ids are short, and a hostile choice costs only a longer chain). */
size_t device_id_hash(const char *id);

#endif
