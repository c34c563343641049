/* Figures a fleet run reports: latency percentiles (latency_samples.h) and
 * the late-packet rule. */
#ifndef OPAL_FLEET_STATS_H
#define OPAL_FLEET_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latency_samples.h"

/* A packet is late when it arrives after the moment it should be playing:
 * the stream's first packet arrival + the audio before it in the stream +
 * a tolerance (what a device's buffer absorbs). */
bool packet_is_late(int64_t arrival_ns, int64_t first_arrival_ns, uint64_t position_samples,
                    int64_t tolerance_ns);

#endif
