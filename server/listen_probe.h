/* Finds out before gRPC does whether HOST:PORT can be listened on, because
 * gRPC only says "0" and the user deserves the reason. */
#ifndef OPAL_LISTEN_PROBE_H
#define OPAL_LISTEN_PROBE_H

#include <stddef.h>

/* Returns 0 if a TCP socket can bind `listen` (HOST:PORT), else -1 with
 * one line in `err` (unknown host, port in use, ...). */
int listen_probe(const char *listen, char *err, size_t err_len);

#endif
