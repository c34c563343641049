/* Checking command-line values, for error lines that name the flag. */
#ifndef OPAL_CLI_ARGS_H
#define OPAL_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Parses a whole decimal number in [min, max]. */
bool cli_parse_long(const char *text, long min, long max, long *out);

/* Splits "HOST:PORT" (or "[V6]:PORT") into `host` and `port` (0..65535).
 * Returns NULL on success, else a static sentence saying what is wrong. */
const char *cli_split_host_port(const char *text, char *host, size_t host_len, int *port);

#endif
