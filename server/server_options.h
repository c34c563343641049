/* opal-server's command line. */
#ifndef OPAL_SERVER_OPTIONS_H
#define OPAL_SERVER_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "cli_args.h"
#include "log.h"

#define OPAL_VERSION "0.1.0"
#define SERVER_DEFAULT_LISTEN "0.0.0.0:50051"
#define SERVER_DEFAULT_LEAD_MS 150
#define SERVER_MAX_LEAD_MS 5000
#define SERVER_MAX_WORKERS 256

typedef struct server_options {
  const char *listen;
  const char *assets; /* NULL: the bundled assets next to the binary */
  long lead_ms;
  const char *store; /* NULL: the default (store_default_url) */
  unsigned workers;  /* loops sharing the port, 1.. */
  const char *replica_name; /* NULL: server_replica_name's default */
  const char *tls_cert, *tls_key; /* both or neither: TLS, else plaintext */
  const char *client_ca;          /* with TLS: mutual TLS, ids from certificates */
  log_level log_level;
  unsigned log_rate_per_device; /* 0: no limit */
} server_options;

/* --replica-name, or HOSTNAME:PORT (the port of --listen). */
void server_replica_name(const server_options *o, char *out, size_t len);

/* Parses argv (see cli_parse for what the result means). */
cli_result server_options_parse(int argc, char **argv, server_options *o, FILE *out, char *err,
                                size_t err_len);

#endif
