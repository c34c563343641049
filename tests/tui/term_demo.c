/* A stand-in device for checking the terminal back end by hand or from
 * tests/tui/test_tui.py: the real hw_term on this terminal, fed by a fake
 * server that follows docs/leds.md (m: next mode, p: play, s: stop,
 * c: connect/disconnect), and every input it receives written to a log.
 *
 *   term_demo [--log FILE] [--hold-ms N] [--colour auto|truecolor|256|none]
 *             [--crash segv|abort --after-ms N]
 *
 * Built by `make` as build/tests/tui/term_demo.
 *
 * Exits 0 after q / Ctrl-D, Ctrl-C or SIGTERM (destroying the back end),
 * 2 when the back end does not start (the reason on stderr). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hw/hw.h"
#include "term/hw_term.h"
#include "term/term_keys.h"

#define QUEUE_LEN 256

typedef struct demo_sink {
  input_sink base;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  device_input queue[QUEUE_LEN];
  int head, count;
} demo_sink;

static void demo_push(input_sink *sink, const device_input *in) {
  demo_sink *s = (demo_sink *)sink;
  pthread_mutex_lock(&s->mu);
  if (s->count < QUEUE_LEN) {
    s->queue[(s->head + s->count) % QUEUE_LEN] = *in;
    s->count++;
  }
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static const uint32_t mode_colour[5] = {0xFF3030FF, 0xFFB000FF, 0x30E030FF, 0x20C0FFFF,
                                        0xB040FFFF};

typedef struct fake {
  bool connected, playing;
  unsigned mode, reconnects;
  double latency_ms;
} fake;

static void show(hw_backend *hw, const fake *f) {
  uint32_t leds[LED_COUNT] = {f->connected ? 0x00FF00FF : 0};
  for (unsigned i = 0; f->connected && i < 5; i++)
    leds[i + 1] = ((i == f->mode) != f->playing) ? mode_colour[f->mode] : 0;
  hw->ops->show_leds(hw, leds);
  device_view v = {
      .device_id = "demo",
      .server = "fake",
      .connection = f->connected ? "connected" : "offline",
      .playing = f->playing,
      .buffered_ms = f->playing ? 60 : 0,
      .last_latency_ms = f->latency_ms,
      .reconnects = f->reconnects,
  };
  hw->ops->show_view(hw, &v);
}

static void usage(void) {
  fprintf(stderr, "usage: term_demo [--log FILE] [--hold-ms N] [--colour MODE] "
                  "[--crash segv|abort --after-ms N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *log_path = NULL, *crash = NULL;
  long after_ms = 0;
  hw_term_options o = hw_term_options_default();
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--log") == 0) log_path = argv[++i];
    else if (strcmp(argv[i], "--hold-ms") == 0) o.hold_ms = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--colour") == 0) {
      if (!term_colour_parse(argv[++i], &o.colour)) usage();
    } else if (strcmp(argv[i], "--crash") == 0) crash = argv[++i];
    else if (strcmp(argv[i], "--after-ms") == 0) after_ms = atol(argv[++i]);
    else usage();
  }
  FILE *log = log_path ? fopen(log_path, "w") : NULL;
  if (log_path && !log) {
    perror(log_path);
    return 2;
  }

  struct sigaction sa = {.sa_handler = on_stop};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  demo_sink sink = {.base.push = demo_push};
  pthread_mutex_init(&sink.mu, NULL);
  pthread_cond_init(&sink.cond, NULL);

  hw_backend *hw = hw_term_create(&o);
  char err[256];
  fake f = {.connected = true, .latency_ms = -1};
  show(hw, &f);
  if (hw->ops->start(hw, &sink.base, err, sizeof err) != 0) {
    fprintf(stderr, "term_demo: %s\n", err);
    hw->ops->destroy(hw);
    return 2;
  }
  if (log) fprintf(log, "STARTED\n"), fflush(log);
  int64_t crash_at = crash ? clock_now_ns() + after_ms * NS_PER_MS : INT64_MAX;

  bool quit = false;
  while (!quit && !stop_requested) {
    if (clock_now_ns() >= crash_at) {
      if (strcmp(crash, "abort") == 0) abort();
      *(volatile int *)NULL = 1; /* a real SIGSEGV */
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_mutex_lock(&sink.mu);
    if (sink.count == 0) pthread_cond_timedwait(&sink.cond, &sink.mu, &ts);
    while (sink.count > 0 && !quit) {
      device_input in = sink.queue[sink.head];
      sink.head = (sink.head + 1) % QUEUE_LEN;
      sink.count--;
      pthread_mutex_unlock(&sink.mu);
      if (in.kind == INPUT_QUIT) {
        quit = true;
      } else if (in.kind == INPUT_BUTTON) {
        bool held[BUTTON_COUNT];
        hw->ops->read_buttons(hw, held);
        if (log)
          fprintf(log, "%s %s held=%d%d%d%d\n", wire_event_label(in.event),
                  wire_button_word(in.button), held[0], held[1], held[2], held[3]),
              fflush(log);
        if (in.event == EVENT_PRESS) {
          if (in.button == BUTTON_CONNECT) {
            f.connected = !f.connected;
            if (f.connected) f.reconnects++;
            f.playing = false;
          } else if (f.connected && in.button == BUTTON_MODE) {
            f.mode = (f.mode + 1) % 5;
          } else if (f.connected && in.button == BUTTON_PLAY) {
            f.playing = true;
            f.latency_ms = (double)(clock_now_ns() - in.at_ns) / 1e6 + 20;
          } else if (f.connected && in.button == BUTTON_STOP) {
            f.playing = false;
          }
          show(hw, &f);
        }
      }
      pthread_mutex_lock(&sink.mu);
    }
    pthread_mutex_unlock(&sink.mu);
  }
  hw->ops->destroy(hw);
  if (log) fprintf(log, "%s\n", quit ? "QUIT" : "SIGNAL"), fclose(log);
  return 0;
}
