#include "term/term_ui.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "term/term_frame.h"
#include "term/term_restore.h"

/* The view's strings, copied: the device loop's may change or go away. */
typedef struct view_text {
  char id[256], server[256], connection[64];
} view_text;

struct term_ui {
  int in_fd;
  input_sink *sink;
  int wake[2]; /* the thread polls wake[0] */
  pthread_t thread;
  bool running;
  atomic_bool stop;
  atomic_int held; /* the held button or -1, for read_buttons */

  /* The thread's only. */
  term_keys keys;
  term_decoder decoder;
  bool input_closed;
  term_frame frame;

  /* Shared with the device loop: under `mu`. */
  pthread_mutex_t mu;
  term_screen screen;
  view_text text;
  bool dirty;
};

/* ---- drawing ---- */

/* Draws the latest state when it changed or the size did. */
static void draw(term_ui *u, bool force) {
  bool resized = term_frame_measure(&u->frame);
  term_screen s;
  view_text text;
  pthread_mutex_lock(&u->mu);
  bool dirty = u->dirty;
  u->dirty = false;
  s = u->screen;
  text = u->text;
  pthread_mutex_unlock(&u->mu);
  if (!dirty && !resized && !force) return;
  s.view.device_id = text.id;
  s.view.server = text.server;
  s.view.connection = text.connection;
  s.held = atomic_load(&u->held);
  term_frame_show(&u->frame, &s, resized || force);
}

/* Before start there is no thread to wake: it draws everything at start. */
static void wake(term_ui *u) {
  if (u->running) {
    ssize_t ignored = write(u->wake[1], "d", 1); /* full pipe: a wake-up is pending anyway */
    (void)ignored;
  }
}

void term_ui_show_leds(term_ui *u, const uint32_t leds[LED_COUNT]) {
  pthread_mutex_lock(&u->mu);
  memcpy(u->screen.leds, leds, sizeof u->screen.leds);
  u->dirty = true;
  pthread_mutex_unlock(&u->mu);
  wake(u);
}

static void copy_text(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

void term_ui_show_view(term_ui *u, const device_view *view) {
  pthread_mutex_lock(&u->mu);
  u->screen.view = *view;
  u->screen.have_view = true;
  copy_text(u->text.id, sizeof u->text.id, view->device_id);
  copy_text(u->text.server, sizeof u->text.server, view->server);
  copy_text(u->text.connection, sizeof u->text.connection, view->connection);
  u->dirty = true;
  pthread_mutex_unlock(&u->mu);
  wake(u);
}

int term_ui_held(const term_ui *u) { return atomic_load(&u->held); }

/* ---- input ---- */

static void push(term_ui *u, input_kind kind, int button, int event, int64_t at) {
  device_input in = {.kind = kind, .button = button, .event = event, .at_ns = at};
  u->sink->push(u->sink, &in);
}

static void deliver(term_ui *u, const term_key_event *ev, int n) {
  if (n == 0) return;
  atomic_store(&u->held, term_keys_held(&u->keys));
  for (int i = 0; i < n; i++) push(u, INPUT_BUTTON, ev[i].button, ev[i].event, ev[i].at_ns);
  pthread_mutex_lock(&u->mu);
  u->screen.last_button = ev[n - 1].button;
  u->screen.last_event = ev[n - 1].event;
  u->dirty = true;
  pthread_mutex_unlock(&u->mu);
}

static void read_keys(term_ui *u) {
  unsigned char buf[256];
  ssize_t n = read(u->in_fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  int64_t now = clock_now_ns();
  if (n <= 0) { /* the terminal is gone (EOF, EIO on hangup) */
    log_info("terminal closed (%s): quitting", n == 0 ? "end of input" : strerror(errno));
    u->input_closed = true;
    push(u, INPUT_QUIT, 0, 0, now);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    int key = term_decode_byte(&u->decoder, buf[i], now);
    if (key == TERM_KEY_QUIT) {
      push(u, INPUT_QUIT, 0, 0, now);
    } else if (key >= 0) {
      term_key_event ev[TERM_KEYS_MAX_EVENTS];
      deliver(u, ev, term_keys_key(&u->keys, key, now, ev));
    }
  }
}

/* ---- the thread ---- */

/* Until the next HOLD or RELEASE falls due; a cut-short frame is retried
 * within a second. -1: no limit. */
static int poll_timeout_ms(const term_ui *u) {
  int timeout = -1;
  int64_t deadline = term_keys_deadline(&u->keys), now = clock_now_ns();
  if (deadline != INT64_MAX)
    timeout = deadline <= now ? 0 : (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
  if (u->frame.garbled && (timeout < 0 || timeout > 1000)) timeout = 1000;
  return timeout;
}

/* What poll found: wake-ups drained, keys read, a vanished terminal a QUIT. */
static void handle_ready(term_ui *u, const struct pollfd p[2]) {
  if (p[0].revents & POLLIN) {
    char drain[64];
    while (read(u->wake[0], drain, sizeof drain) > 0) {
    }
  }
  if (u->input_closed) return;
  if (p[1].revents & POLLNVAL) { /* the fd was closed under us */
    u->input_closed = true;
    push(u, INPUT_QUIT, 0, 0, clock_now_ns());
  } else if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
    read_keys(u);
  }
}

static void *ui_thread(void *arg) {
  term_ui *u = arg;
  term_restore_mask_thread();
  draw(u, true);
  while (!atomic_load(&u->stop)) {
    struct pollfd p[2] = {{.fd = u->wake[0], .events = POLLIN},
                          {.fd = u->in_fd, .events = POLLIN}};
    int r = poll(p, u->input_closed ? 1 : 2, poll_timeout_ms(u));
    if (atomic_load(&u->stop)) break;
    if (r < 0) {
      if (errno != EINTR) break;
      continue;
    }
    handle_ready(u, p);
    term_key_event ev[TERM_KEYS_MAX_EVENTS];
    deliver(u, ev, term_keys_tick(&u->keys, clock_now_ns(), ev));
    draw(u, term_restore_take_resize());
  }
  return NULL;
}

/* ---- life ---- */

term_ui *term_ui_create(int in_fd, int out_fd, const term_style *style,
                        const term_key_timing *timing) {
  term_ui *u = calloc(1, sizeof *u);
  if (!u) return NULL;
  if (!term_frame_init(&u->frame, out_fd, style)) {
    free(u);
    return NULL;
  }
  u->in_fd = in_fd;
  term_keys_init(&u->keys, timing);
  atomic_init(&u->stop, false);
  atomic_init(&u->held, -1);
  pthread_mutex_init(&u->mu, NULL);
  u->wake[0] = u->wake[1] = -1;
  u->screen.held = -1;
  u->screen.last_button = -1;
  u->dirty = true;
  return u;
}

static int set_flags(int fd, int fd_flags, int fl_flags) {
  int f = fcntl(fd, F_GETFD);
  int g = fcntl(fd, F_GETFL);
  if (f < 0 || g < 0) return -1;
  if (fcntl(fd, F_SETFD, f | fd_flags) < 0 || fcntl(fd, F_SETFL, g | fl_flags) < 0) return -1;
  return 0;
}

int term_ui_open(term_ui *u, char *err, size_t err_len) {
  if (pipe(u->wake) != 0) {
    u->wake[0] = u->wake[1] = -1;
  } else if (set_flags(u->wake[0], FD_CLOEXEC, O_NONBLOCK) != 0 ||
             set_flags(u->wake[1], FD_CLOEXEC, O_NONBLOCK) != 0) {
    int e = errno;
    term_ui_close(u);
    errno = e;
  } else {
    return 0;
  }
  snprintf(err, err_len, "cannot make a pipe: %s", strerror(errno));
  return -1;
}

int term_ui_wake_fd(const term_ui *u) { return u->wake[1]; }

void term_ui_close(term_ui *u) {
  for (int i = 0; i < 2; i++) {
    if (u->wake[i] >= 0) close(u->wake[i]);
    u->wake[i] = -1;
  }
}

int term_ui_start(term_ui *u, input_sink *sink, char *err, size_t err_len) {
  u->sink = sink;
  u->running = true;
  int rc = pthread_create(&u->thread, NULL, ui_thread, u);
  if (rc != 0) {
    snprintf(err, err_len, "cannot start the input thread: %s", strerror(rc));
    u->running = false;
    return -1;
  }
  return 0;
}

void term_ui_stop(term_ui *u) {
  if (!u->running) return;
  atomic_store(&u->stop, true);
  ssize_t ignored = write(u->wake[1], "q", 1);
  (void)ignored;
  pthread_join(u->thread, NULL);
  u->running = false;
}

void term_ui_free(term_ui *u) {
  if (!u) return;
  term_ui_stop(u);
  term_ui_close(u);
  pthread_mutex_destroy(&u->mu);
  term_frame_free(&u->frame);
  free(u);
}
