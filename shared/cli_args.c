#include "cli_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cli_result cli_bad(char *err, size_t err_len, const char *flag, const char *why,
                   const char *value) {
  snprintf(err, err_len, "%s: %s (got '%s')", flag, why, value);
  return CLI_BAD;
}

bool cli_parse_long(const char *text, long min, long max, long *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

bool cli_parse_double(const char *text, double min, double max, double *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || *end || !(v >= min && v <= max)) return false;
  *out = v;
  return true;
}

const char *cli_split_host_port(const char *text, char *host, size_t host_len, int *port) {
  const char *colon = strrchr(text, ':');
  if (!colon) return "expected HOST:PORT";
  const char *h = text;
  size_t n = (size_t)(colon - text);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    h++;
    n -= 2;
  } else if (memchr(h, ':', n)) {
    return "an IPv6 host needs brackets, as in [::1]:50051";
  }
  if (n == 0) return "the host is empty";
  if (n >= host_len) return "the host is too long";
  long p;
  if (!cli_parse_long(colon + 1, 0, 65535, &p)) return "the port must be a number from 0 to 65535";
  memcpy(host, h, n);
  host[n] = '\0';
  *port = (int)p;
  return NULL;
}

cli_result cli_parse(int argc, char **argv, const struct option *options, cli_take_fn take,
                     void *ctx, FILE *out, char *err, size_t err_len) {
  opterr = 0; /* our own messages, one line each */
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
    if (opt == '?' || opt == ':') {
      snprintf(err, err_len, "%s: %s (see --help)", argv[optind - 1],
               opt == '?' ? "unknown flag" : "needs a value");
      return CLI_BAD;
    }
    cli_result r = take(opt, optarg, ctx, out, err, err_len);
    if (r != CLI_RUN) return r;
  }
  if (optind < argc) {
    snprintf(err, err_len, "%s: unexpected argument (see --help)", argv[optind]);
    return CLI_BAD;
  }
  return CLI_RUN;
}
