/* opal-device --fleet N: one process, one loop thread, N devices, each a
 * full protocol peer on its own connection (three calls with metadata,
 * GET/SET answered, acks awaited, audio received and checked). For load
 * tests and benchmarks against any server honouring the wire contract. */
#ifndef OPAL_FLEET_H
#define OPAL_FLEET_H

#include <signal.h>
#include <stdbool.h>

#include "fleet/fleet_mix.h"
#include "script/script.h"
#include "tls/device_creds.h"

typedef struct fleet_config {
  const char *server;
  const device_creds *creds;   /* device i's TLS (borrowed): device_creds_get */
  const char *tls_server_name; /* or NULL: see net/channel.h */
  const char *id_prefix;  /* ids are PREFIX-0 .. PREFIX-(count-1) */
  unsigned count;
  double ramp_per_s;      /* connections started per second */
  double duration_s;      /* activity after the ramp; with a script, a cap */
  mix_rates mix;          /* the random mix, per device */
  const script *script;   /* instead of the mix, when not NULL (borrowed) */
  unsigned late_ms;       /* tolerance of the late-packet rule */
  unsigned packet_ms;     /* asked for on ServerAudioStream (conn_config) */
  bool decode;            /* decode audio for real */
  double progress_s;      /* a summary this often; 0 = only at the end */
  bool json;              /* summaries as JSON lines */
} fleet_config;

/* Runs the fleet until the end of its activity or `*stop`. Prints the
 * summaries on stdout. Returns 0, or 2 when it cannot start. */
int fleet_run(const fleet_config *config, volatile sig_atomic_t *stop);

#endif
