#include "gpio/gpio_input.h"

#include <errno.h>
#include <gpiod.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define EVENT_TRUST_NS (5 * NS_PER_SEC)
#define STOP_FD BUTTON_COUNT /* index of the stop pipe in the poll set */

typedef struct pending {
  int button;
  button_timing_event ev;
} pending;

int64_t gpio_input_edge_time_ns(int64_t event_ns, int64_t mono_now_ns, int64_t real_now_ns) {
  int64_t dm = mono_now_ns - event_ns, dr = real_now_ns - event_ns;
  if (dm < 0) dm = -dm;
  if (dr < 0) dr = -dr;
  int64_t at = dm <= dr ? event_ns : mono_now_ns - (real_now_ns - event_ns);
  if (at > mono_now_ns || at < mono_now_ns - EVENT_TRUST_NS) at = mono_now_ns;
  return at;
}

static void deliver(gpio_input *in, pending *p, size_t n) {
  /* In time order across buttons (insertion sort keeps each button's order). */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && p[j].ev.at_ns < p[j - 1].ev.at_ns; j--) {
      pending t = p[j];
      p[j] = p[j - 1];
      p[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++) {
    device_input d = {.kind = INPUT_BUTTON,
                      .button = p[i].button,
                      .event = p[i].ev.event,
                      .at_ns = p[i].ev.at_ns};
    log_debug("gpio: button %s %s", wire_button_title(d.button), wire_event_label(d.event));
    in->sink->push(in->sink, &d);
  }
}

static size_t collect(pending *out, int button, const button_timing_event *ev, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = (pending){button, ev[i]};
  return n;
}

/* Reads one edge of button `i`. False when the line can no longer be read. */
static bool read_edge(gpio_input *in, int i) {
  struct gpiod_line_event ev;
  if (gpiod_line_event_read(in->buttons[i], &ev) < 0) {
    log_error(
        "gpio line %u (button %s): reading an edge failed: %s; the button is ignored from now on",
        in->lines[i], wire_button_title(i), strerror(errno));
    return false;
  }
  struct timespec real;
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t stamp = (int64_t)ev.ts.tv_sec * NS_PER_SEC + ev.ts.tv_nsec;
  int64_t at = gpio_input_edge_time_ns(stamp, clock_now_ns(),
                                       (int64_t)real.tv_sec * NS_PER_SEC + real.tv_nsec);
  /* The kernel reads the level back after the edge (active-low applied), so
   * a bounce may repeat a level; button_timing takes that. */
  bool pressed = ev.event_type == GPIOD_LINE_EVENT_RISING_EDGE;

  button_timing_event out[BUTTON_TIMING_MAX_EVENTS];
  pthread_mutex_lock(&in->lock);
  size_t n = button_timing_edge(&in->timing[i], pressed, at, out);
  pthread_mutex_unlock(&in->lock);
  pending p[BUTTON_TIMING_MAX_EVENTS];
  deliver(in, p, collect(p, i, out, n));
  return true;
}

/* Brings the timing of every button not in `skip` up to `now`. */
static void tick_buttons(gpio_input *in, const bool skip[BUTTON_COUNT], int64_t now) {
  pending p[BUTTON_COUNT * BUTTON_TIMING_MAX_EVENTS];
  size_t n = 0;
  pthread_mutex_lock(&in->lock);
  for (int i = 0; i < BUTTON_COUNT; i++) {
    if (skip[i]) continue;
    button_timing_event out[BUTTON_TIMING_MAX_EVENTS];
    size_t k = button_timing_tick(&in->timing[i], now, out);
    n += collect(p + n, i, out, k);
  }
  pthread_mutex_unlock(&in->lock);
  deliver(in, p, n);
}

static int poll_timeout_ms(gpio_input *in) {
  int64_t deadline = BUTTON_TIMING_NO_DEADLINE;
  pthread_mutex_lock(&in->lock);
  for (int i = 0; i < BUTTON_COUNT; i++) {
    int64_t d = button_timing_next_deadline(&in->timing[i]);
    if (d < deadline) deadline = d;
  }
  pthread_mutex_unlock(&in->lock);
  if (deadline == BUTTON_TIMING_NO_DEADLINE) return -1;
  int64_t left = deadline - clock_now_ns();
  if (left <= 0) return 0;
  int64_t ms = (left + NS_PER_MS - 1) / NS_PER_MS; /* round up: wake at or after it */
  return ms > 60000 ? 60000 : (int)ms;
}

/* Reads what poll found; marks in `queued` the buttons that had an edge. */
static bool read_ready(gpio_input *in, struct pollfd *fds, bool queued[BUTTON_COUNT]) {
  bool busy = false;
  for (int i = 0; i < BUTTON_COUNT; i++) {
    short r = fds[i].revents;
    if (r & POLLIN) {
      queued[i] = busy = true;
      if (!read_edge(in, i)) fds[i].fd = -1;
    } else if (r & (POLLERR | POLLHUP | POLLNVAL)) {
      log_error(
          "gpio line %u (button %s): its event file failed; the button is ignored from now on",
          in->lines[i], wire_button_title(i));
      fds[i].fd = -1; /* poll skips it */
    }
  }
  return busy;
}

static void *input_thread(void *arg) {
  gpio_input *in = arg;
  struct pollfd fds[BUTTON_COUNT + 1];
  for (int i = 0; i < BUTTON_COUNT; i++)
    fds[i] = (struct pollfd){.fd = gpiod_line_event_get_fd(in->buttons[i]), .events = POLLIN};
  fds[STOP_FD] = (struct pollfd){.fd = in->stop_pipe[0], .events = POLLIN};

  /* Edges are handled as they come. A button's timing is brought up to the
   * clock (tick) only when none of its edges is waiting, so a deadline never
   * jumps ahead of an older edge still queued (an edge brings its button's
   * timing up to its own time first). */
  bool busy = false;
  for (;;) {
    int n = poll(fds, BUTTON_COUNT + 1, busy ? 0 : poll_timeout_ms(in));
    if (n < 0) {
      if (errno == EINTR) continue; /* not expected: signals are blocked */
      log_error("gpio: waiting for buttons failed: %s; buttons are ignored from now on",
                strerror(errno));
      break;
    }
    if (fds[STOP_FD].revents) break;
    bool queued[BUTTON_COUNT] = {false};
    busy = read_ready(in, fds, queued);
    tick_buttons(in, queued, clock_now_ns());
  }
  return NULL;
}

void gpio_input_init(gpio_input *in) {
  *in = (gpio_input){.stop_pipe = {-1, -1}};
  pthread_mutex_init(&in->lock, NULL);
}

void gpio_input_free(gpio_input *in) {
  gpio_input_stop(in);
  pthread_mutex_destroy(&in->lock);
}

int gpio_input_prepare(gpio_input *in, struct gpiod_line *const buttons[BUTTON_COUNT],
                       const gpio_config *cfg, char *err, size_t err_len) {
  int64_t now = clock_now_ns();
  for (int i = 0; i < BUTTON_COUNT; i++) {
    in->buttons[i] = buttons[i];
    in->lines[i] = cfg->button_lines[i];
    int v = gpiod_line_get_value(buttons[i]);
    if (v < 0) {
      snprintf(err, err_len, "gpio line %u (button %s): could not read it: %s",
               cfg->button_lines[i], wire_button_title(i), strerror(errno));
      return -1;
    }
    if (v == 1)
      log_warn(
          "gpio line %u (button %s) reads pressed at start; if nobody holds it, check "
          "buttons_active_low and the wiring",
          cfg->button_lines[i], wire_button_title(i));
    button_timing_init(&in->timing[i], cfg->debounce_ms, cfg->hold_ms, v == 1, now);
  }
  return 0;
}

int gpio_input_start(gpio_input *in, input_sink *sink, char *err, size_t err_len) {
  if (in->running) {
    snprintf(err, err_len, "gpio: input is already started");
    return -1;
  }
  for (int i = 0; i < BUTTON_COUNT; i++)
    if (gpiod_line_event_get_fd(in->buttons[i]) < 0) {
      snprintf(err, err_len, "gpio line %u (button %s): no event file: %s", in->lines[i],
               wire_button_title(i), strerror(errno));
      return -1;
    }
  if (pipe(in->stop_pipe) < 0) {
    snprintf(err, err_len, "gpio: could not make a pipe: %s", strerror(errno));
    return -1;
  }
  in->sink = sink;
  /* The thread takes no signals: they stay with the program's own threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&in->thread, NULL, input_thread, in);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    snprintf(err, err_len, "gpio: could not start the input thread: %s", strerror(rc));
    close(in->stop_pipe[0]);
    close(in->stop_pipe[1]);
    return -1;
  }
  in->running = true;
  return 0;
}

void gpio_input_stop(gpio_input *in) {
  if (!in->running) return;
  char b = 'q';
  while (write(in->stop_pipe[1], &b, 1) < 0 && errno == EINTR) {
  }
  pthread_join(in->thread, NULL);
  close(in->stop_pipe[0]);
  close(in->stop_pipe[1]);
  in->running = false;
}

void gpio_input_pressed(gpio_input *in, bool pressed[BUTTON_COUNT]) {
  pthread_mutex_lock(&in->lock);
  for (int i = 0; i < BUTTON_COUNT; i++) pressed[i] = button_timing_pressed(&in->timing[i]);
  pthread_mutex_unlock(&in->lock);
}
