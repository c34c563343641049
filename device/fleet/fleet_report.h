/* The fleet's summary: its figures at one moment, as readable text or as
 * one JSON line (docs/fleet.md; tests and tests/bench/bench.py parse both).
 * One table of the fields (fleet_report.c) drives both writers, so a field
 * is added in one place. */
#ifndef OPAL_FLEET_REPORT_H
#define OPAL_FLEET_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fleet/fleet_stats.h"
#include "net/loss_reason.h"
#include "status_name.h"

/* Calls the server ended, by gRPC status, then any other status; then the
 * losses net/loss_reason.h has words for (a TLS set-up failure, a
 * device_id that is not the certificate's), by those words instead. */
#define FLEET_OTHER_SLOT STATUS_NAME_COUNT
#define FLEET_ERROR_SLOTS (FLEET_OTHER_SLOT + LOSS_REASON_COUNT)

static inline int fleet_error_slot(int status, loss_reason reason) {
  if (reason > LOSS_UNCLASSIFIED && reason < LOSS_REASON_COUNT) return FLEET_OTHER_SLOT + reason;
  return status >= 0 && status < STATUS_NAME_COUNT ? status : FLEET_OTHER_SLOT;
}

/* What the fleet counts as it runs, over all devices. */
typedef struct fleet_tally {
  uint64_t streams_started, streams_ended, packets, bytes, late, decode_errors;
  uint64_t samples; /* audio received, at 48 kHz: packets of 20 to 120 ms */
  uint64_t errors[FLEET_ERROR_SLOTS];
} fleet_tally;

typedef struct fleet_figures {
  bool final;     /* the run is over: the last summary */
  double elapsed_s;
  double ramp_s;  /* how long starting every device took; -1 until it has */
  uint64_t devices, connected, failed, reconnects, script_timeouts;
  latency_summary first_packet, stop_to_end, ack;
  fleet_tally tally;
  double audio_s; /* tally.samples in seconds */
} fleet_figures;

/* Writes one summary and flushes `out`: text, or a JSON line with `json`. */
void fleet_report_write(const fleet_figures *f, bool json, FILE *out);

#endif
