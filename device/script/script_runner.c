#include "script/script_runner.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "script/script_exec.h"

typedef struct script_runner {
  hw_backend base;
  script script;
  script_exec exec; /* guarded by lock */
  reporter *rep;
  input_sink *sink;
  pthread_t thread;
  bool started;

  pthread_mutex_t lock;
  pthread_cond_t changed; /* an event happened, or we are stopping */
  bool pressed[BUTTON_COUNT];
  bool stopping, failed;
} script_runner;

static void push(script_runner *r, input_kind kind, int button, int event) {
  device_input in = {.kind = kind, .button = button, .event = event, .at_ns = clock_now_ns()};
  r->sink->push(r->sink, &in);
}

/* An action command: called by script_exec_step, with the lock held. */
static void act(void *ctx, const script_command *c) {
  script_runner *r = ctx;
  if (c->op == SCRIPT_BUTTON) {
    r->pressed[c->button] = c->event != EVENT_RELEASE;
    push(r, INPUT_BUTTON, c->button, c->event);
  } else {
    push(r, c->op == SCRIPT_CONNECT ? INPUT_CONNECT : INPUT_DISCONNECT, 0, 0);
  }
}

static void *run(void *arg) {
  script_runner *r = arg;
  pthread_mutex_lock(&r->lock);
  while (!r->stopping) {
    int64_t wake = script_exec_step(&r->exec, clock_now_ns(), act, r);
    if (r->exec.done) break;
    struct timespec ts = {.tv_sec = wake / NS_PER_SEC, .tv_nsec = wake % NS_PER_SEC};
    pthread_cond_timedwait(&r->changed, &r->lock, &ts);
  }
  const script_command *timed_out = r->exec.timed_out;
  r->failed = timed_out != NULL;
  pthread_mutex_unlock(&r->lock);
  if (timed_out)
    report(r->rep, "script_timeout", "\"line\":%u,\"waiting_for\":\"%s\",\"timeout_ms\":%u",
           timed_out->line, script_watch_name(timed_out->watch), timed_out->ms);
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

static void show_leds(hw_backend *hw, const uint32_t leds[LED_COUNT]) {
  (void)hw;
  (void)leds; /* the device loop reports LED changes itself */
}

static void read_buttons(hw_backend *hw, bool pressed[BUTTON_COUNT]) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  memcpy(pressed, r->pressed, sizeof r->pressed);
  pthread_mutex_unlock(&r->lock);
}

static void observe(hw_backend *hw, device_watch what) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  script_exec_notify(&r->exec, what);
  pthread_cond_broadcast(&r->changed);
  pthread_mutex_unlock(&r->lock);
}

static bool failed(hw_backend *hw) {
  script_runner *r = (script_runner *)hw;
  pthread_mutex_lock(&r->lock);
  bool timed_out = r->failed;
  pthread_mutex_unlock(&r->lock);
  return timed_out;
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
    .start = start,
    .show_leds = show_leds,
    .read_buttons = read_buttons,
    .observe = observe,
    .failed = failed,
    .destroy = destroy,
};

hw_backend *script_runner_create(script *s, reporter *rep) {
  script_runner *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->base.ops = &script_ops;
  r->script = *s;
  memset(s, 0, sizeof *s);
  script_exec_init(&r->exec, &r->script);
  r->rep = rep;
  pthread_mutex_init(&r->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&r->changed, &attr);
  pthread_condattr_destroy(&attr);
  return &r->base;
}
