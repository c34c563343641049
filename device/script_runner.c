#include "script_runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

typedef struct script_runner {
  hw_backend base;
  script script;
  reporter *rep;
  input_sink *sink;
  pthread_t thread;
  bool started;

  pthread_mutex_t lock;
  pthread_cond_t changed;
  unsigned seen[WATCH_COUNT]; /* how often each event has happened */
  unsigned mark[WATCH_COUNT]; /* counts as of the last action or wait-for */
  bool pressed[HW_BUTTON_COUNT];
  bool stopping, failed;
} script_runner;

static void push(script_runner *r, input_kind kind, int button, int event) {
  device_input in = {.kind = kind, .button = button, .event = event, .at_ns = clock_now_ns()};
  r->sink->push(r->sink, &in);
}

/* Sleeps until `deadline` (CLOCK_MONOTONIC ns) or until stopped; with a
 * watch, also returns as soon as it happened since the mark. */
static bool wait_until(script_runner *r, int64_t deadline, int watch) {
  struct timespec ts = {.tv_sec = deadline / NS_PER_SEC, .tv_nsec = deadline % NS_PER_SEC};
  pthread_mutex_lock(&r->lock);
  bool happened = false;
  while (!r->stopping) {
    if (watch >= 0 && r->seen[watch] > r->mark[watch]) {
      r->mark[watch] = r->seen[watch];
      happened = true;
      break;
    }
    if (pthread_cond_timedwait(&r->changed, &r->lock, &ts) == ETIMEDOUT) break;
  }
  pthread_mutex_unlock(&r->lock);
  return happened;
}

/* An action: later wait-fors look for what happens after it. */
static void set_marks(script_runner *r) {
  pthread_mutex_lock(&r->lock);
  memcpy(r->mark, r->seen, sizeof r->mark);
  pthread_mutex_unlock(&r->lock);
}

static void stop_running(script_runner *r) {
  pthread_mutex_lock(&r->lock);
  r->stopping = true;
  pthread_mutex_unlock(&r->lock);
}

static bool is_stopping(script_runner *r) {
  pthread_mutex_lock(&r->lock);
  bool stopping = r->stopping;
  pthread_mutex_unlock(&r->lock);
  return stopping;
}

static void run_command(script_runner *r, const script_command *c) {
  switch (c->op) {
  case SCRIPT_CONNECT:
  case SCRIPT_DISCONNECT:
    set_marks(r);
    push(r, c->op == SCRIPT_CONNECT ? INPUT_CONNECT : INPUT_DISCONNECT, 0, 0);
    break;
  case SCRIPT_BUTTON:
    set_marks(r);
    pthread_mutex_lock(&r->lock);
    r->pressed[c->button] = c->event != HW_RELEASE;
    pthread_mutex_unlock(&r->lock);
    push(r, INPUT_BUTTON, c->button, c->event);
    break;
  case SCRIPT_WAIT:
    wait_until(r, clock_now_ns() + (int64_t)c->ms * NS_PER_MS, -1);
    break;
  case SCRIPT_WAIT_FOR:
    if (!wait_until(r, clock_now_ns() + (int64_t)c->ms * NS_PER_MS, (int)c->watch) &&
        !is_stopping(r)) {
      report(r->rep, "script_timeout", "\"line\":%u,\"waiting_for\":\"%s\",\"timeout_ms\":%u",
             c->line, script_watch_name(c->watch), c->ms);
      pthread_mutex_lock(&r->lock);
      r->failed = true;
      r->stopping = true;
      pthread_mutex_unlock(&r->lock);
    }
    break;
  case SCRIPT_QUIT:
    stop_running(r);
    break;
  }
}

static void *run(void *arg) {
  script_runner *r = arg;
  for (size_t i = 0; i < r->script.count && !is_stopping(r); i++)
    run_command(r, &r->script.commands[i]);
  /* The end of the script, or a failure, ends the program. */
  push(r, INPUT_QUIT, 0, 0);
  return NULL;
}

static int start(hw_backend *hw, input_sink *sink, char *err, size_t err_len) {
  script_runner *r = (script_runner *)hw;
  r->sink = sink;
  if (pthread_create(&r->thread, NULL, run, r) != 0) {
    snprintf(err, err_len, "cannot start the script thread");
    return -1;
  }
  r->started = true;
  return 0;
}

static void show_leds(hw_backend *hw, const uint32_t leds[HW_LED_COUNT]) {
  (void)hw;
  (void)leds; /* the device loop reports LED changes itself */
}

static void read_buttons(hw_backend *hw, bool pressed[HW_BUTTON_COUNT]) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  memcpy(pressed, r->pressed, sizeof r->pressed);
  pthread_mutex_unlock(&r->lock);
}

static void destroy(hw_backend *hw) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  r->stopping = true;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
  if (r->started) pthread_join(r->thread, NULL);
  script_free(&r->script);
  pthread_cond_destroy(&r->changed);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static const hw_ops script_ops = {
    .start = start, .show_leds = show_leds, .read_buttons = read_buttons, .destroy = destroy};

hw_backend *script_runner_create(script *s, reporter *rep) {
  script_runner *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->base.ops = &script_ops;
  r->script = *s;
  memset(s, 0, sizeof *s);
  r->rep = rep;
  pthread_mutex_init(&r->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&r->changed, &attr);
  pthread_condattr_destroy(&attr);
  return &r->base;
}

void script_runner_notify(hw_backend *hw, script_watch watch) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  r->seen[watch]++;
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

bool script_runner_failed(hw_backend *hw) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  bool failed = r->failed;
  pthread_mutex_unlock(&r->lock);
  return failed;
}
