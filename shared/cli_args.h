/* Checking command-line values, for error lines that name the flag. */
#ifndef OPAL_CLI_ARGS_H
#define OPAL_CLI_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
  CLI_RUN,  /* parsed: go on */
  CLI_DONE, /* --help or --version was printed: exit 0 */
  CLI_BAD,  /* `err` holds one line naming the flag at fault */
} cli_result;

/* Handles one option (getopt_long's value `opt`, its argument or NULL). */
typedef cli_result (*cli_take_fn)(int opt, const char *arg, void *ctx, FILE *out, char *err,
                                  size_t err_len);

/* Runs getopt_long over argv with `options`, calling `take` for each; an
 * unknown flag, a missing value or a stray argument is CLI_BAD with a line
 * naming it. */
cli_result cli_parse(int argc, char **argv, const struct option *options, cli_take_fn take,
                     void *ctx, FILE *out, char *err, size_t err_len);

/* Writes "FLAG: WHY (got 'VALUE')" to `err`; returns CLI_BAD. */
cli_result cli_bad(char *err, size_t err_len, const char *flag, const char *why,
                   const char *value);

/* Parses a whole decimal number in [min, max]. */
bool cli_parse_long(const char *text, long min, long max, long *out);

/* Parses a decimal number (fractions allowed) in [min, max]. */
bool cli_parse_double(const char *text, double min, double max, double *out);

/* Splits "HOST:PORT" (or "[V6]:PORT") into `host` and `port` (0..65535).
 * Returns NULL on success, else a static sentence saying what is wrong. */
const char *cli_split_host_port(const char *text, char *host, size_t host_len, int *port);

#endif
