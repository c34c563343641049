/* opal-server's command line. */
#ifndef OPAL_SERVER_OPTIONS_H
#define OPAL_SERVER_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "cli_args.h"
#include "config_file.h"
#include "devices/token_bucket.h"
#include "log.h"

#define OPAL_VERSION "0.1.0"
#define SERVER_DEFAULT_LISTEN "0.0.0.0:50051"
#define SERVER_DEFAULT_LEAD_MS 150
#define SERVER_MAX_LEAD_MS 5000
#define SERVER_MAX_WORKERS 256
#define SERVER_DEFAULT_MAX_CALLS 16
#define SERVER_DEFAULT_IDLE_S 60
#define SERVER_DEFAULT_MAX_RESETS 100
#define SERVER_DEFAULT_MAX_RECEIVE_RATE 1048576
/* Devices remembered at once, connected or not (a few hundred bytes each;
 * docs/security.md, "Devices: capacity, eviction and new-device rate"). */
#define SERVER_DEFAULT_MAX_DEVICES 100000
#define SERVER_MAX_MAX_DEVICES 100000000
/* The longest audio packets granted to clients that ask (docs/protocol.md). */
#define SERVER_DEFAULT_PACKET_MS 120
/* Overload (docs/architecture.md, "Overload"): new Plays are refused once
 * due packets go out this late; a third of the default lead, so the
 * streams already playing keep 100 ms in hand while load is shed. */
#define SERVER_DEFAULT_MAX_PACING_LAG_MS 50
#define SERVER_MAX_MAX_PACING_LAG_MS 60000
#define SERVER_MAX_MAX_STREAMS 10000000

typedef struct server_options {
  const char *listen;
  const char *assets; /* NULL: the bundled assets next to the binary */
  long lead_ms;
  const char *store; /* NULL: the default (store_default_url) */
  unsigned workers;  /* loops sharing the port, 1.. */
  const char *replica_name; /* NULL: server_replica_name's default */
  const char *tls_cert, *tls_key; /* both or neither: TLS, else plaintext */
  const char *client_ca;          /* with TLS: mutual TLS, ids from certificates */
  /* Limits (connections.h); max_connections 0: from the open-file limit. */
  long max_connections, max_connections_per_ip, max_calls_per_connection, idle_timeout_s,
      max_resets, max_receive_rate;
  log_level log_level;
  long max_devices;              /* --max-devices, for the whole process */
  token_rate new_devices_per_ip; /* --new-devices-per-ip; per_s 0: unlimited */
  unsigned log_rate_per_device; /* 0: no limit */
  config_text config; /* the config file: values taken from it point here */
  const char *metrics; /* --metrics HOST:PORT; NULL: no metrics endpoint */
  unsigned packet_ms;           /* --packet-ms: 20 (only 20 ms packets) .. 120 */
  long max_streams;         /* --max-streams, for the whole process; 0: no bound */
  long max_pacing_lag_ms;   /* --max-pacing-lag-ms; 0: no bound */
} server_options;

/* --replica-name, or HOSTNAME:PORT (the port of --listen). */
void server_replica_name(const server_options *o, char *out, size_t len);

/* Parses argv over the config file (--config FILE, else server.conf in
 * $OPAL_CONFIG_DIR or /etc/opal; config_file.h); see cli_parse for what
 * the result means. */
cli_result server_options_parse(int argc, char **argv, server_options *o, FILE *out, char *err,
                                size_t err_len);

#endif
