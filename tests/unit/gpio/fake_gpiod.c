/* The libgpiod 1.6 stand-in: see fake_gpiod.h. Compiled against the real
 * <gpiod.h>, so every function here has libgpiod's exact prototype. */
#include "fake_gpiod.h"

#include <errno.h>
#include <gpiod.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gpiod_chip {
  struct gpiod_line *lines[FAKE_MAX_LINES];
  char name[32];
  char label[64];
  unsigned num_lines;
};

struct gpiod_line {
  struct gpiod_chip *chip;
  unsigned offset;
};

#define LOG_MAX 4096
#define LOG_LEN 96

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  bool present;
  char name[32];
  char label[64];
  unsigned num_lines;
  int open_errno;
  fake_line lines[FAKE_MAX_LINES];
  int out_level[FAKE_MAX_LINES]; /* physical level of an output */
  bool driving[FAKE_MAX_LINES];  /* an output, or one released as an output */
  int driven[FAKE_MAX_LINES];    /* -1: not driven */
  int fds[FAKE_MAX_LINES][2];    /* event pipe of a line requested for events */
  int open_chips;
  int misuse;
  char log[LOG_MAX][LOG_LEN];
  int log_n;
} F;

static void logf_locked(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_locked(const char *fmt, ...) {
  if (F.log_n >= LOG_MAX) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(F.log[F.log_n++], LOG_LEN, fmt, ap);
  va_end(ap);
}

static void close_events(unsigned i) {
  for (int k = 0; k < 2; k++)
    if (F.fds[i][k] >= 0) close(F.fds[i][k]);
  F.fds[i][0] = F.fds[i][1] = -1;
}

void fake_gpiod_reset(void) {
  pthread_mutex_lock(&mu);
  static bool first = true;
  for (unsigned i = 0; i < FAKE_MAX_LINES && !first; i++) close_events(i);
  first = false;
  memset(&F, 0, sizeof F);
  F.present = true;
  snprintf(F.name, sizeof F.name, "gpiochip0");
  snprintf(F.label, sizeof F.label, "pinctrl-bcm2711");
  F.num_lines = 58;
  for (unsigned i = 0; i < FAKE_MAX_LINES; i++) {
    F.driven[i] = -1;
    F.fds[i][0] = F.fds[i][1] = -1;
  }
  pthread_mutex_unlock(&mu);
}

void fake_gpiod_set_chip(const char *name, const char *label, unsigned num_lines) {
  pthread_mutex_lock(&mu);
  snprintf(F.name, sizeof F.name, "%s", name);
  snprintf(F.label, sizeof F.label, "%s", label);
  F.num_lines = num_lines > FAKE_MAX_LINES ? FAKE_MAX_LINES : num_lines;
  F.present = true;
  pthread_mutex_unlock(&mu);
}

void fake_gpiod_remove_chip(void) {
  pthread_mutex_lock(&mu);
  F.present = false;
  pthread_mutex_unlock(&mu);
}

void fake_gpiod_fail_open(int err) {
  pthread_mutex_lock(&mu);
  F.open_errno = err;
  pthread_mutex_unlock(&mu);
}

void fake_gpiod_hold_line(unsigned offset, const char *consumer) {
  pthread_mutex_lock(&mu);
  F.lines[offset].held = true;
  snprintf(F.lines[offset].held_by, sizeof F.lines[offset].held_by, "%s", consumer);
  pthread_mutex_unlock(&mu);
}

void fake_gpiod_fail_request(unsigned offset, int err) {
  pthread_mutex_lock(&mu);
  F.lines[offset].fail_errno = err;
  pthread_mutex_unlock(&mu);
}

static int physical(unsigned i) {
  const fake_line *l = &F.lines[i];
  /* The kernel leaves a released output driving its last level. */
  if (l->direction == FAKE_OUTPUT || (l->direction == FAKE_FREE && F.driving[i]))
    return F.out_level[i];
  if (F.driven[i] >= 0) return F.driven[i];
  return l->direction != FAKE_FREE && (l->flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP) ? 1 : 0;
}

static int active_low(unsigned i) {
  return F.lines[i].direction != FAKE_FREE &&
         (F.lines[i].flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW);
}

static int logical(unsigned i) { return physical(i) ^ active_low(i); }

static void write_event(unsigned i, int type, int64_t ts_ns) {
  struct gpiod_line_event ev = {
      .ts = {.tv_sec = (time_t)(ts_ns / 1000000000), .tv_nsec = (long)(ts_ns % 1000000000)},
      .event_type = type};
  if (F.fds[i][1] < 0) return;
  if (write(F.fds[i][1], &ev, sizeof ev) != (ssize_t)sizeof ev) F.misuse++;
}

void fake_gpiod_drive(unsigned offset, int level, int64_t ts_ns) {
  pthread_mutex_lock(&mu);
  int before = physical(offset);
  F.driven[offset] = level;
  int after = physical(offset);
  const fake_line *l = &F.lines[offset];
  if (before != after && l->direction == FAKE_EVENTS) {
    /* The kernel reads the line back (active-low applied) to type the edge. */
    int type = logical(offset) ? GPIOD_LINE_EVENT_RISING_EDGE : GPIOD_LINE_EVENT_FALLING_EDGE;
    bool wanted = l->event_type == GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES ||
                  (l->event_type == GPIOD_LINE_REQUEST_EVENT_RISING_EDGE &&
                   type == GPIOD_LINE_EVENT_RISING_EDGE) ||
                  (l->event_type == GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE &&
                   type == GPIOD_LINE_EVENT_FALLING_EDGE);
    if (wanted) write_event(offset, type, ts_ns);
  }
  pthread_mutex_unlock(&mu);
}

void fake_gpiod_inject(unsigned offset, int event_type, int64_t ts_ns) {
  pthread_mutex_lock(&mu);
  write_event(offset, event_type, ts_ns);
  pthread_mutex_unlock(&mu);
}

fake_line fake_gpiod_line(unsigned offset) {
  pthread_mutex_lock(&mu);
  fake_line l = F.lines[offset];
  l.level = physical(offset);
  pthread_mutex_unlock(&mu);
  return l;
}

int fake_gpiod_requested_count(void) {
  pthread_mutex_lock(&mu);
  int n = 0;
  for (unsigned i = 0; i < FAKE_MAX_LINES; i++) n += F.lines[i].direction != FAKE_FREE;
  pthread_mutex_unlock(&mu);
  return n;
}

int fake_gpiod_open_chips(void) {
  pthread_mutex_lock(&mu);
  int n = F.open_chips;
  pthread_mutex_unlock(&mu);
  return n;
}

int fake_gpiod_misuse(void) {
  pthread_mutex_lock(&mu);
  int n = F.misuse;
  pthread_mutex_unlock(&mu);
  return n;
}

int fake_gpiod_count(const char *prefix) {
  pthread_mutex_lock(&mu);
  int n = 0;
  for (int i = 0; i < F.log_n; i++) n += strncmp(F.log[i], prefix, strlen(prefix)) == 0;
  pthread_mutex_unlock(&mu);
  return n;
}

int fake_gpiod_find(const char *call, int from) {
  pthread_mutex_lock(&mu);
  int found = -1;
  for (int i = from < 0 ? 0 : from; i < F.log_n && found < 0; i++)
    if (strcmp(F.log[i], call) == 0) found = i;
  pthread_mutex_unlock(&mu);
  return found;
}

int fake_gpiod_log_size(void) {
  pthread_mutex_lock(&mu);
  int n = F.log_n;
  pthread_mutex_unlock(&mu);
  return n;
}

/* ---- libgpiod ---- */

static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

/* As libgpiod 1.6: a number, else a label, else a /dev/ path, else a name. */
struct gpiod_chip *gpiod_chip_open_lookup(const char *descr) {
  pthread_mutex_lock(&mu);
  logf_locked("open_lookup %s", descr);
  char by[64];
  bool match = false;
  if (F.present) {
    if (all_digits(descr)) {
      snprintf(by, sizeof by, "gpiochip%s", descr);
      match = strcmp(by, F.name) == 0;
    } else if (strcmp(descr, F.label) == 0) {
      match = true;
    } else if (strncmp(descr, "/dev/", 5) == 0) {
      match = strcmp(descr + 5, F.name) == 0;
    } else {
      match = strcmp(descr, F.name) == 0;
    }
  }
  struct gpiod_chip *chip = NULL;
  if (!match) {
    errno = ENOENT;
  } else if (F.open_errno) {
    errno = F.open_errno;
  } else {
    chip = calloc(1, sizeof *chip);
    snprintf(chip->name, sizeof chip->name, "%s", F.name);
    snprintf(chip->label, sizeof chip->label, "%s", F.label);
    chip->num_lines = F.num_lines;
    F.open_chips++;
  }
  pthread_mutex_unlock(&mu);
  return chip;
}

static void release_locked(unsigned i) {
  fake_line *l = &F.lines[i];
  if (l->direction == FAKE_FREE) return; /* libgpiod: releasing a free line does nothing */
  close_events(i);
  l->direction = FAKE_FREE;
  l->releases++;
}

/* As libgpiod: closing releases whatever is still requested and frees the
 * line handles (using one afterwards is a use-after-free ASan reports). */
void gpiod_chip_close(struct gpiod_chip *chip) {
  pthread_mutex_lock(&mu);
  logf_locked("chip_close");
  for (unsigned i = 0; i < FAKE_MAX_LINES; i++) {
    if (!chip->lines[i]) continue;
    if (F.lines[i].direction != FAKE_FREE) {
      logf_locked("release %u (by chip_close)", i);
      release_locked(i);
    }
    free(chip->lines[i]);
  }
  free(chip);
  F.open_chips--;
  pthread_mutex_unlock(&mu);
}

const char *gpiod_chip_name(struct gpiod_chip *chip) { return chip->name; }
const char *gpiod_chip_label(struct gpiod_chip *chip) { return chip->label; }
unsigned int gpiod_chip_num_lines(struct gpiod_chip *chip) { return chip->num_lines; }

struct gpiod_line *gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset) {
  pthread_mutex_lock(&mu);
  logf_locked("get_line %u", offset);
  struct gpiod_line *line = NULL;
  if (offset >= chip->num_lines) {
    errno = EINVAL;
  } else {
    if (!chip->lines[offset]) {
      chip->lines[offset] = calloc(1, sizeof *line);
      chip->lines[offset]->chip = chip;
      chip->lines[offset]->offset = offset;
    }
    line = chip->lines[offset];
  }
  pthread_mutex_unlock(&mu);
  return line;
}

unsigned int gpiod_line_offset(struct gpiod_line *line) { return line->offset; }

const char *gpiod_line_consumer(struct gpiod_line *line) {
  pthread_mutex_lock(&mu);
  fake_line *l = &F.lines[line->offset];
  const char *c = l->direction != FAKE_FREE  ? l->consumer
                  : l->held && l->held_by[0] ? l->held_by
                                             : NULL;
  pthread_mutex_unlock(&mu);
  return c;
}

/* libgpiod's checks before it asks the kernel, then the kernel's. */
static int check_request(unsigned i, bool output, int flags) {
  int bias = !!(flags & GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE) +
             !!(flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP) +
             !!(flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN);
  int drive = flags & (GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN | GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE);
  if (bias > 1 || (drive && !output) ||
      drive == (GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN | GPIOD_LINE_REQUEST_FLAG_OPEN_SOURCE)) {
    F.misuse++;
    errno = EINVAL;
    return -1;
  }
  fake_line *l = &F.lines[i];
  if (l->direction != FAKE_FREE) { /* ours already */
    F.misuse++;
    errno = EBUSY;
    return -1;
  }
  if (l->held) {
    errno = EBUSY;
    return -1;
  }
  if (l->fail_errno) {
    errno = l->fail_errno;
    return -1;
  }
  return 0;
}

int gpiod_line_request_output_flags(struct gpiod_line *line, const char *consumer, int flags,
                                    int default_val) {
  unsigned i = line->offset;
  pthread_mutex_lock(&mu);
  logf_locked("request_output %u flags=0x%x default=%d consumer=%s", i, (unsigned)flags,
              default_val, consumer);
  int rc = check_request(i, true, flags);
  if (rc == 0) {
    fake_line *l = &F.lines[i];
    l->direction = FAKE_OUTPUT;
    l->flags = flags;
    snprintf(l->consumer, sizeof l->consumer, "%s", consumer);
    l->requests++;
    F.out_level[i] = (default_val ? 1 : 0) ^ active_low(i);
    F.driving[i] = true;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

int gpiod_line_request_output(struct gpiod_line *line, const char *consumer, int default_val) {
  return gpiod_line_request_output_flags(line, consumer, 0, default_val);
}

int gpiod_line_request_both_edges_events_flags(struct gpiod_line *line, const char *consumer,
                                               int flags) {
  unsigned i = line->offset;
  pthread_mutex_lock(&mu);
  logf_locked("request_events %u flags=0x%x consumer=%s", i, (unsigned)flags, consumer);
  int rc = check_request(i, false, flags);
  if (rc == 0 && pipe(F.fds[i]) < 0) rc = -1;
  if (rc == 0) {
    fake_line *l = &F.lines[i];
    l->direction = FAKE_EVENTS;
    F.driving[i] = false;
    l->event_type = GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
    l->flags = flags;
    snprintf(l->consumer, sizeof l->consumer, "%s", consumer);
    l->requests++;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

int gpiod_line_request_both_edges_events(struct gpiod_line *line, const char *consumer) {
  return gpiod_line_request_both_edges_events_flags(line, consumer, 0);
}

void gpiod_line_release(struct gpiod_line *line) {
  pthread_mutex_lock(&mu);
  logf_locked("release %u", line->offset);
  release_locked(line->offset);
  pthread_mutex_unlock(&mu);
}

int gpiod_line_get_value(struct gpiod_line *line) {
  pthread_mutex_lock(&mu);
  int v;
  if (F.lines[line->offset].direction == FAKE_FREE) {
    F.misuse++;
    errno = EPERM;
    v = -1;
  } else {
    v = logical(line->offset);
  }
  pthread_mutex_unlock(&mu);
  return v;
}

int gpiod_line_set_value(struct gpiod_line *line, int value) {
  unsigned i = line->offset;
  pthread_mutex_lock(&mu);
  logf_locked("set_value %u %d", i, value);
  int rc = 0;
  if (F.lines[i].direction != FAKE_OUTPUT) { /* the kernel refuses to drive an input */
    F.misuse++;
    errno = EPERM;
    rc = -1;
  } else {
    F.out_level[i] = (value ? 1 : 0) ^ active_low(i);
    F.lines[i].sets++;
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

int gpiod_line_event_get_fd(struct gpiod_line *line) {
  pthread_mutex_lock(&mu);
  int fd = -1;
  if (F.lines[line->offset].direction != FAKE_EVENTS) {
    F.misuse++;
    errno = EPERM;
  } else {
    fd = F.fds[line->offset][0];
  }
  pthread_mutex_unlock(&mu);
  return fd;
}

/* Blocks until an event is there, as libgpiod's does. */
int gpiod_line_event_read(struct gpiod_line *line, struct gpiod_line_event *event) {
  pthread_mutex_lock(&mu);
  int fd = F.lines[line->offset].direction == FAKE_EVENTS ? F.fds[line->offset][0] : -1;
  if (fd < 0) F.misuse++;
  pthread_mutex_unlock(&mu);
  if (fd < 0) {
    errno = EPERM;
    return -1;
  }
  size_t got = 0;
  while (got < sizeof *event) {
    ssize_t n = read(fd, (char *)event + got, sizeof *event - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return -1;
    }
    got += (size_t)n;
  }
  return 0;
}
