/* --metrics HOST:PORT: GET /metrics on a thread of its own (libmicrohttpd),
 * every other path 404. The thread only reads (metrics_page.h), so the
 * loops never wait for a scrape. */
#ifndef OPAL_METRICS_HTTP_H
#define OPAL_METRICS_HTTP_H

#include <stddef.h>

#include "metrics/metrics_page.h"

typedef struct metrics_http metrics_http;

/* Binds `address` (HOST:PORT; port 0: a free one) and serves the page of
 * `src` (copied; what it points to is borrowed and must outlive the
 * server). NULL with one line in `err` naming --metrics when the address
 * does not resolve or cannot be bound. */
metrics_http *metrics_http_start(const char *address, const metrics_page_sources *src, char *err,
                                 size_t err_len);

/* The port it listens on (the chosen one for port 0), and the address
 * "HOST:PORT" as given with that port, for the log. */
int metrics_http_port(const metrics_http *h);
void metrics_http_bound(const metrics_http *h, char *out, size_t len);

/* Stops the thread, closes the socket and frees the server; NULL is fine. */
void metrics_http_stop(metrics_http *h);

#endif
