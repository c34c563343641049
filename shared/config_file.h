/* The programs' config files (/etc/opal/server.conf, /etc/opal/device.conf,
 * or --config FILE): INI whose top-level keys are the program's long flags,
 * read through the same table and the same checks as the command line, so
 * that every flag is a key with no more code. Flags given on the command
 * line win over the file.
 *
 *   # a comment (a line starting with # or ;)
 *   lead-ms = 200        top-level: a long flag without its --
 *   sim = true           a flag without a value: true (given) or false
 *   [gpio]               a section the program knows (the device's pin map)
 *   led_lines = 5,6,12,13,16,26
 *
 * A key given twice, an unknown key or section, or a bad value is one line
 * naming the file, the line and the key. The default file is in
 * $OPAL_CONFIG_DIR when that is set (tests/run-tests.sh points it at an
 * empty folder, so that nothing in /etc reaches a test), else in /etc/opal;
 * a missing default file is nothing read, and `--config /dev/null` reads
 * nothing at all. */
#ifndef OPAL_CONFIG_FILE_H
#define OPAL_CONFIG_FILE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli_args.h"

#define CONFIG_DEFAULT_DIR "/etc/opal"
#define CONFIG_DIR_ENV "OPAL_CONFIG_DIR"
#define CONFIG_FILE_MAX 65536 /* bytes in a config file, at most */

/* The file's text, in which the values taken stay: it lives as long as the
 * options that point into it (a member of them, so nothing to free). */
typedef struct config_text {
  char bytes[CONFIG_FILE_MAX + 1];
} config_text;

/* A [section] of the file, with the keys of its own (not flags). */
typedef struct config_section {
  const char *name;
  /* Takes KEY = VALUE: 0, or -1 with `why` saying what is wrong with it
   * (without the file, line or key, which the caller puts first). */
  int (*take)(void *ctx, const char *key, const char *value, char *why, size_t why_len);
} config_section;

/* A flag that is not a key, and why ("set it in [gpio] as chip"). --help,
 * --version and --config never are. */
typedef struct config_flag_only {
  const char *flag, *why;
} config_flag_only;

/* What a program's command line and file are made of. */
typedef struct config_program {
  const char *default_file; /* "server.conf": in $OPAL_CONFIG_DIR or /etc/opal */
  const struct option *options; /* getopt_long's table, with {"config", required_argument} */
  cli_take_fn take;             /* handles every flag but --config */
  const config_flag_only *flag_only; /* NULL-ended, or NULL */
  const config_section *sections;    /* NULL-ended by name, or NULL */
  void (*reset)(void *ctx);          /* back to the defaults */
} config_program;

/* Parses the command line over the config file over the defaults: flags
 * alone first (--help, --version, a bad flag and --config FILE are known
 * before any file is read), then reset, the file, and the flags again.
 * Values taken from the file point into `text`. See cli_parse for what the
 * result means. */
cli_result config_parse_command_line(const config_program *p, int argc, char **argv, void *ctx,
                                     config_text *text, FILE *out, char *err, size_t err_len);

/* Reads `path` into `text` and hands each pair to p's take or sections.
 * A missing file is an error only if `must_exist`. */
cli_result config_file_read(const config_program *p, const char *path, bool must_exist, void *ctx,
                            config_text *text, char *err, size_t err_len);

/* The default file's path: $OPAL_CONFIG_DIR/NAME, else /etc/opal/NAME. */
void config_default_path(const char *name, char *out, size_t len);

#endif
