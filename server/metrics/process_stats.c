#include "metrics/process_stats.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The fields of /proc/self/stat after the command's name, which may hold
 * spaces and parentheses: from the last ')'. Fields 14, 15 (utime, stime),
 * 22 (starttime, in ticks since boot), 23 (vsize), 24 (rss, pages). */
static bool read_stat(process_stats *out) {
  char line[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return false;
  bool ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  const char *rest = ok ? strrchr(line, ')') : NULL;
  if (!rest) return false;
  unsigned long utime, stime, vsize;
  unsigned long long start;
  long rss;
  /* After ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
   * majflt cmajflt utime(14) stime cutime cstime priority nice threads
   * itrealvalue starttime(22) vsize rss. */
  if (sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                       "%*d %llu %lu %ld",
             &utime, &stime, &start, &vsize, &rss) != 5)
    return false;
  double ticks = (double)sysconf(_SC_CLK_TCK);
  out->cpu_seconds = (double)(utime + stime) / ticks;
  out->virtual_bytes = vsize;
  out->resident_bytes = (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
  out->start_time_s = (double)start / ticks;
  return true;
}

/* The boot time (btime in /proc/stat), to turn starttime into a date. */
static bool boot_time(double *out) {
  char line[256];
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return false;
  unsigned long long btime = 0;
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) found = sscanf(line, "btime %llu", &btime) == 1;
  fclose(f);
  *out = (double)btime;
  return found;
}

static uint64_t count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return 0;
  uint64_t n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n > 0 ? n - 1 : 0; /* less the directory's own descriptor */
}

bool process_stats_read(process_stats *out) {
  memset(out, 0, sizeof *out);
  double boot;
  if (!read_stat(out) || !boot_time(&boot)) return false;
  out->start_time_s += boot;
  out->open_fds = count_fds();
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) out->max_fds = (uint64_t)rl.rlim_cur;
  return true;
}
