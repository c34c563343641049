/* The /metrics page: every figure of metrics.h, the connection limits'
 * counts, build info and the process's figures, in the Prometheus text
 * format. Runs on the metrics HTTP thread; reads only atomics and what
 * net/connections.h guards with its lock. */
#ifndef OPAL_METRICS_PAGE_H
#define OPAL_METRICS_PAGE_H

#include <stddef.h>

#include "net/connections.h"

typedef struct metrics_page_sources {
  const char *version;      /* opal-server's, for opal_build_info */
  connections *connections; /* borrowed; NULL: no connection figures */
} metrics_page_sources;

/* The page as text (the caller frees it) and its length; NULL when out of
 * memory. */
char *metrics_page_write(const metrics_page_sources *src, size_t *len);

#endif
