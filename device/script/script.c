#include "script/script.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "hw/hw.h"

static const char *const watch_names[WATCH_COUNT] = {
    "connected", "disconnected", "stream_start", "stream_end", "ack", "leds",
};

const char *script_watch_name(device_watch w) { return watch_names[w]; }

static int lookup(const char *word, const char *const names[], int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(word, names[i]) == 0) return i;
  return -1;
}

/* The value whose wire word (wire_button_word, wire_event_word) is `word`. */
static int lookup_word(const char *word, const char *(*word_of)(int), int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(word, word_of(i)) == 0) return i;
  return -1;
}

/* One line, already split into words. Returns NULL or a reason. */
static const char *parse_words(char **w, int n, script_command *c) {
  long ms;
  int event = lookup_word(w[0], wire_event_word, EVENT_COUNT);
  if (event >= 0) {
    if (n != 2) return "expected: press|hold|release BUTTON";
    c->op = SCRIPT_BUTTON;
    c->event = event;
    c->button = lookup_word(w[1], wire_button_word, BUTTON_COUNT);
    return c->button < 0 ? "unknown button (connect, mode, stop, play)" : NULL;
  }
  if (strcmp(w[0], "wait") == 0) {
    if (n != 2 || !cli_parse_long(w[1], 0, 3600000, &ms)) return "expected: wait MILLISECONDS";
    c->op = SCRIPT_WAIT;
    c->ms = (unsigned)ms;
    return NULL;
  }
  if (strcmp(w[0], "wait-for") == 0) {
    if (n < 2 || n > 3) return "expected: wait-for EVENT [TIMEOUT_MS]";
    int watch = lookup(w[1], watch_names, WATCH_COUNT);
    if (watch < 0)
      return "unknown event (connected, disconnected, stream_start, stream_end, ack, leds)";
    ms = SCRIPT_DEFAULT_WAIT_FOR_MS;
    if (n == 3 && !cli_parse_long(w[2], 0, 3600000, &ms)) return "bad timeout";
    c->op = SCRIPT_WAIT_FOR;
    c->watch = (device_watch)watch;
    c->ms = (unsigned)ms;
    return NULL;
  }
  static const struct { const char *word; script_op op; } bare[] = {
      {"connect", SCRIPT_CONNECT}, {"disconnect", SCRIPT_DISCONNECT}, {"quit", SCRIPT_QUIT}};
  for (size_t i = 0; i < sizeof bare / sizeof *bare; i++) {
    if (strcmp(w[0], bare[i].word) == 0) {
      c->op = bare[i].op;
      return n == 1 ? NULL : "takes no argument";
    }
  }
  return "unknown command";
}

static int append(script *s, size_t *cap, const script_command *c) {
  if (s->count == *cap) {
    size_t n = *cap ? *cap * 2 : 16;
    script_command *p = realloc(s->commands, n * sizeof *p);
    if (!p) return -1;
    s->commands = p;
    *cap = n;
  }
  s->commands[s->count++] = *c;
  return 0;
}

/* Parses one line (modified in place); blank and comment lines add nothing. */
static int parse_line(char *line, unsigned line_no, script *out, size_t *cap, char *err,
                      size_t err_len) {
  char *hash = strchr(line, '#');
  if (hash) *hash = '\0';
  char *words[3], *save;
  int n = 0;
  for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
    if (n == 3) {
      snprintf(err, err_len, "line %u: %s: too many words", line_no, words[0]);
      return -1;
    }
    words[n++] = w;
  }
  if (n == 0) return 0;
  script_command c = {.line = line_no};
  const char *why = parse_words(words, n, &c);
  if (why) {
    snprintf(err, err_len, "line %u: %s: %s", line_no, words[0], why);
    return -1;
  }
  if (append(out, cap, &c) != 0) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  return 0;
}

int script_parse(const char *text, script *out, char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  char *copy = strdup(text);
  if (!copy) return -1;
  size_t cap = 0;
  unsigned line_no = 0;
  int rc = 0;
  for (char *line = copy; line && rc == 0;) {
    char *newline = strchr(line, '\n');
    if (newline) *newline = '\0';
    rc = parse_line(line, ++line_no, out, &cap, err, err_len);
    line = newline ? newline + 1 : NULL;
  }
  free(copy);
  if (rc != 0) script_free(out);
  return rc;
}

static char *read_all(FILE *f) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        return NULL;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  if (buf) buf[len] = '\0';
  return buf;
}

int script_load(const char *path, script *out, char *err, size_t err_len) {
  bool from_stdin = strcmp(path, "-") == 0;
  FILE *f = from_stdin ? stdin : fopen(path, "r");
  if (!f) {
    snprintf(err, err_len, "--script %s: %s", path, strerror(errno));
    return -1;
  }
  char *text = read_all(f);
  if (!from_stdin) fclose(f);
  if (!text) {
    snprintf(err, err_len, "--script %s: cannot read it", path);
    return -1;
  }
  char why[256];
  int rc = script_parse(text, out, why, sizeof why);
  free(text);
  if (rc != 0) snprintf(err, err_len, "--script %s: %s", path, why);
  return rc;
}

void script_free(script *s) {
  free(s->commands);
  s->commands = NULL;
  s->count = 0;
}
