#include "config_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_KEYS 256 /* pairs in one file, at most (each key once) */

/* Flags that are never keys: they say what to read, or print and exit. */
static const char *const never_keys[] = {"help", "version", "config"};

void config_default_path(const char *name, char *out, size_t len) {
  const char *dir = getenv(CONFIG_DIR_ENV);
  snprintf(out, len, "%s/%s", dir && *dir ? dir : CONFIG_DEFAULT_DIR, name);
}

/* ---- Reading the pairs ---- */

typedef struct seen_key {
  const config_section *section; /* NULL: top level */
  const char *key;
  int line;
} seen_key;

typedef struct reader {
  const config_program *p;
  void *ctx;
  const char *path;
  const config_section *section; /* the [section] we are in; NULL: top level */
  int line;
  seen_key seen[CONFIG_MAX_KEYS];
  size_t seen_count;
  char *err;
  size_t err_len;
} reader;

/* One line "PATH:LINE: ..." in err; returns CLI_BAD. */
__attribute__((format(printf, 2, 3))) static cli_result fail(reader *r, const char *fmt, ...) {
  char why[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(r->err, r->err_len, "%s:%d: %s", r->path, r->line, why);
  return CLI_BAD;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

static const char *flag_only_reason(const config_program *p, const char *key) {
  for (size_t i = 0; i < sizeof never_keys / sizeof *never_keys; i++)
    if (strcmp(never_keys[i], key) == 0) return "a command-line flag only";
  for (const config_flag_only *f = p->flag_only; f && f->flag; f++)
    if (strcmp(f->flag, key) == 0) return f->why;
  return NULL;
}

static const struct option *find_flag(const config_program *p, const char *key) {
  for (const struct option *o = p->options; o->name; o++)
    if (strcmp(o->name, key) == 0) return o;
  return NULL;
}

/* A key given twice is a mistake in the file (one of the two is not what
 * the reader thinks applies), so it is an error rather than last-wins. */
static cli_result note_key(reader *r, const char *key) {
  for (size_t i = 0; i < r->seen_count; i++)
    if (r->seen[i].section == r->section && strcmp(r->seen[i].key, key) == 0)
      return fail(r, "key '%s' given twice (first on line %d)", key, r->seen[i].line);
  if (r->seen_count == CONFIG_MAX_KEYS) return fail(r, "more than %d keys", CONFIG_MAX_KEYS);
  r->seen[r->seen_count++] = (seen_key){r->section, key, r->line};
  return CLI_RUN;
}

/* A top-level key: the flag of that name, through the flags' own checks. */
static cli_result take_flag(reader *r, const char *key, const char *value) {
  const char *why = flag_only_reason(r->p, key);
  if (why) return fail(r, "key '%s': %s", key, why);
  const struct option *flag = find_flag(r->p, key);
  if (!flag) return fail(r, "unknown key '%s'", key);
  if (flag->has_arg == no_argument) {
    if (strcmp(value, "false") == 0) return CLI_RUN;
    if (strcmp(value, "true") != 0)
      return fail(r, "key '%s': expected true or false (got '%s')", key, value);
    value = NULL;
  }
  char msg[400];
  if (r->p->take(flag->val, value, r->ctx, stdout, msg, sizeof msg) == CLI_RUN) return CLI_RUN;
  /* The flag's line starts "--KEY: "; the file's names the key instead. */
  size_t n = strlen(key);
  const char *rest = msg;
  if (strncmp(msg, "--", 2) == 0 && strncmp(msg + 2, key, n) == 0 && strncmp(msg + 2 + n, ": ", 2) == 0)
    rest = msg + 4 + n;
  return fail(r, "key '%s': %s", key, rest);
}

static cli_result take_section_key(reader *r, const char *key, const char *value) {
  char why[400];
  if (r->section->take(r->ctx, key, value, why, sizeof why) == 0) return CLI_RUN;
  return fail(r, "[%s] key '%s': %s", r->section->name, key, why);
}

static cli_result enter_section(reader *r, char *line) {
  size_t n = strlen(line);
  if (line[n - 1] != ']') return fail(r, "expected '[section]'");
  line[n - 1] = '\0';
  const char *name = trim(line + 1);
  for (const config_section *s = r->p->sections; s && s->name; s++)
    if (strcmp(s->name, name) == 0) {
      r->section = s;
      return CLI_RUN;
    }
  return fail(r, "unknown section [%s]", name);
}

/* "; note" or "# note" after a space ends the line, as in inih's files
 * (the device's [gpio] files were read with it). */
static void cut_inline_comment(char *line) {
  for (char *c = line; *c; c++)
    if ((*c == ';' || *c == '#') && c > line && (c[-1] == ' ' || c[-1] == '\t')) {
      *c = '\0';
      return;
    }
}

static cli_result read_line(reader *r, char *line) {
  line = trim(line);
  if (!*line || *line == '#' || *line == ';') return CLI_RUN;
  cut_inline_comment(line);
  line = trim(line);
  if (*line == '[') return enter_section(r, line);
  char *eq = strchr(line, '=');
  if (!eq) return fail(r, "expected 'key = value', '[section]' or a # comment");
  *eq = '\0';
  const char *key = trim(line), *value = trim(eq + 1);
  if (!*key) return fail(r, "expected 'key = value' (the key is empty)");
  cli_result rc = note_key(r, key);
  if (rc != CLI_RUN) return rc;
  return r->section ? take_section_key(r, key, value) : take_flag(r, key, value);
}

/* ---- Reading the file ---- */

/* 0: read; 1: missing; -1: error in err. */
static int load_text(const char *path, config_text *text, size_t *size, char *err, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT || errno == ENOTDIR) return 1;
    snprintf(err, len, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t n = fread(text->bytes, 1, CONFIG_FILE_MAX, f);
  int read_errno = ferror(f) ? errno : 0;
  bool longer = n == CONFIG_FILE_MAX && getc(f) != EOF;
  fclose(f);
  if (read_errno) {
    snprintf(err, len, "%s: %s", path, strerror(read_errno));
    return -1;
  }
  if (longer) {
    snprintf(err, len, "%s: longer than %d bytes", path, CONFIG_FILE_MAX);
    return -1;
  }
  text->bytes[n] = '\0';
  *size = n;
  return 0;
}

cli_result config_file_read(const config_program *p, const char *path, bool must_exist, void *ctx,
                            config_text *text, char *err, size_t err_len) {
  size_t size = 0;
  int loaded = load_text(path, text, &size, err, err_len);
  if (loaded < 0) return CLI_BAD;
  if (loaded > 0) {
    if (!must_exist) return CLI_RUN;
    snprintf(err, err_len, "%s: %s", path, strerror(ENOENT));
    return CLI_BAD;
  }
  reader rd = {.p = p, .ctx = ctx, .path = path, .err = err, .err_len = err_len}, *r = &rd;
  cli_result rc = CLI_RUN;
  char *line = text->bytes, *end = text->bytes + size;
  while (rc == CLI_RUN && line < end) {
    r->line++;
    char *newline = memchr(line, '\n', (size_t)(end - line));
    char *stop = newline ? newline : end;
    if (memchr(line, '\0', (size_t)(stop - line))) {
      rc = fail(r, "a NUL byte: not a text file");
      break;
    }
    *stop = '\0';
    rc = read_line(r, line);
    line = stop + 1;
  }
  return rc;
}

/* ---- The command line over the file ---- */

/* cli_parse's callback during config_parse_command_line: --config is kept
 * here, every other flag goes to the program. */
typedef struct with_config {
  const config_program *p;
  void *ctx;
  int config_opt;
  const char *config_path; /* --config, or NULL */
} with_config;

static cli_result take_or_keep_config(int opt, const char *arg, void *ctx, FILE *out, char *err,
                                      size_t len) {
  with_config *w = ctx;
  if (opt != w->config_opt) return w->p->take(opt, arg, w->ctx, out, err, len);
  if (!*arg) return cli_bad(err, len, "--config", "expected a file", arg);
  w->config_path = arg;
  return CLI_RUN;
}

cli_result config_parse_command_line(const config_program *p, int argc, char **argv, void *ctx,
                                     config_text *text, FILE *out, char *err, size_t err_len) {
  const struct option *config_flag = find_flag(p, "config");
  with_config w = {.p = p, .ctx = ctx, .config_opt = config_flag ? config_flag->val : -1};
  p->reset(ctx);
  cli_result rc = cli_parse(argc, argv, p->options, take_or_keep_config, &w, out, err, err_len);
  if (rc != CLI_RUN) return rc;

  p->reset(ctx);
  char default_path[4200];
  const char *path = w.config_path;
  if (!path) config_default_path(p->default_file, default_path, sizeof default_path);
  rc = config_file_read(p, path ? path : default_path, path != NULL, ctx, text, err, err_len);
  if (rc != CLI_RUN) return rc;
  return cli_parse(argc, argv, p->options, take_or_keep_config, &w, out, err, err_len);
}
