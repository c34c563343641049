/* The process's own figures, from /proc/self, as the Prometheus client
 * libraries name them (process_*). */
#ifndef OPAL_PROCESS_STATS_H
#define OPAL_PROCESS_STATS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct process_stats {
  double cpu_seconds;      /* user + system */
  uint64_t resident_bytes;
  uint64_t virtual_bytes;
  double start_time_s;     /* since the Unix epoch */
  uint64_t open_fds;
  uint64_t max_fds;        /* the soft RLIMIT_NOFILE */
} process_stats;

/* Reads them; false when /proc/self could not be read (no such figures). */
bool process_stats_read(process_stats *out);

#endif
