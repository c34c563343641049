/* The terminal back end (--sim) on a pseudo-terminal: it refuses a
 * non-terminal, sets the terminal's mode and screen up, turns keys into
 * inputs, draws what it is shown, and puts everything back on destroy. */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hw/hw.h"
#include "term/hw_term.h"

/* ---- a sink that remembers ---- */

typedef struct rec_sink {
  input_sink base;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  device_input got[64];
  int count;
} rec_sink;

static void rec_push(input_sink *sink, const device_input *in) {
  rec_sink *s = (rec_sink *)sink;
  pthread_mutex_lock(&s->mu);
  if (s->count < 64) s->got[s->count++] = *in;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static void rec_init(rec_sink *s) {
  memset(s, 0, sizeof *s);
  s->base.push = rec_push;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
}

/* Waits until at least `n` inputs have come, up to `ms`. Returns the count. */
static int rec_wait(rec_sink *s, int n, int ms) {
  int64_t until = clock_now_ns() + ms * NS_PER_MS;
  pthread_mutex_lock(&s->mu);
  while (s->count < n && clock_now_ns() < until) {
    pthread_mutex_unlock(&s->mu);
    usleep(5000);
    pthread_mutex_lock(&s->mu);
  }
  int count = s->count;
  pthread_mutex_unlock(&s->mu);
  return count;
}

/* ---- a pty and what comes out of it ---- */

typedef struct pty {
  int master, slave;
  char out[65536];
  size_t len;
} pty;

static void pty_open(pty *p) {
  memset(p, 0, sizeof *p);
  p->master = posix_openpt(O_RDWR | O_NOCTTY);
  assert_true(p->master >= 0);
  assert_int_equal(grantpt(p->master), 0);
  assert_int_equal(unlockpt(p->master), 0);
  p->slave = open(ptsname(p->master), O_RDWR | O_NOCTTY);
  assert_true(p->slave >= 0);
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  assert_int_equal(ioctl(p->master, TIOCSWINSZ, &ws), 0);
}

/* Reads what the back end wrote until `text` shows up (or `ms` pass). */
static bool pty_expect(pty *p, const char *text, int ms) {
  int64_t until = clock_now_ns() + ms * NS_PER_MS;
  for (;;) {
    p->out[p->len] = '\0';
    if (strstr(p->out, text)) return true;
    int64_t left = (until - clock_now_ns()) / NS_PER_MS;
    if (left <= 0) return false;
    struct pollfd pf = {.fd = p->master, .events = POLLIN};
    if (poll(&pf, 1, (int)left) <= 0) continue;
    ssize_t n = read(p->master, p->out + p->len, sizeof p->out - 1 - p->len);
    if (n <= 0) return false;
    p->len += (size_t)n;
    if (p->len >= sizeof p->out - 1) p->len = 0; /* keep going, forget the oldest */
  }
}

static void pty_forget(pty *p) { p->len = 0; }

static void pty_close(pty *p) {
  if (p->slave >= 0) close(p->slave);
  if (p->master >= 0) close(p->master);
}

static hw_backend *make(const pty *p, term_colour colour) {
  hw_term_options o = hw_term_options_default();
  o.in_fd = o.out_fd = p->slave;
  o.colour = colour;
  o.glyphs = TERM_GLYPHS_UNICODE;
  o.hold_ms = 300;
  hw_backend *hw = hw_term_create(&o);
  assert_non_null(hw);
  return hw;
}

/* ---- tests ---- */

static void refuses_a_non_terminal(void **unused) {
  (void)unused;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  hw_term_options o = hw_term_options_default();
  o.in_fd = fds[0];
  hw_backend *hw = hw_term_create(&o);
  rec_sink sink;
  rec_init(&sink);
  char err[256] = "";
  assert_int_equal(hw->ops->start(hw, &sink.base, err, sizeof err), -1);
  assert_string_equal(err, HW_TERM_NOT_A_TTY);
  hw->ops->destroy(hw);
  close(fds[0]);
  close(fds[1]);
}

static void sets_up_and_puts_back_the_terminal(void **unused) {
  (void)unused;
  pty p;
  pty_open(&p);
  struct termios before, during, after;
  assert_int_equal(tcgetattr(p.slave, &before), 0);
  hw_backend *hw = make(&p, TERM_COLOUR_NONE);
  rec_sink sink;
  rec_init(&sink);
  char err[256];
  assert_int_equal(hw->ops->start(hw, &sink.base, err, sizeof err), 0);
  /* Alternate screen, hidden cursor, then the screen itself. */
  assert_true(pty_expect(&p, "\x1B[?1049h\x1B[?25l", 2000));
  assert_true(pty_expect(&p, "c connect/disconnect", 2000));
  assert_int_equal(tcgetattr(p.slave, &during), 0);
  assert_false(during.c_lflag & ICANON);
  assert_false(during.c_lflag & ECHO);
  assert_true(during.c_lflag & ISIG); /* Ctrl-C still raises SIGINT */
  assert_false(during.c_iflag & IXON);
  assert_int_equal(during.c_cc[VSUSP], _POSIX_VDISABLE);

  hw->ops->destroy(hw);
  assert_true(pty_expect(&p, "\x1B[?25h\x1B[?1049l", 2000));
  assert_int_equal(tcgetattr(p.slave, &after), 0);
  assert_int_equal(after.c_lflag, before.c_lflag);
  assert_int_equal(after.c_iflag, before.c_iflag);
  assert_int_equal(after.c_cc[VSUSP], before.c_cc[VSUSP]);
  assert_int_equal(after.c_cc[VMIN], before.c_cc[VMIN]);
  pty_close(&p);
}

static void draws_leds_and_view(void **unused) {
  (void)unused;
  pty p;
  pty_open(&p);
  hw_backend *hw = make(&p, TERM_COLOUR_TRUECOLOR);
  rec_sink sink;
  rec_init(&sink);
  char err[256];
  uint32_t leds[LED_COUNT] = {0x00FF00FF, 0xFF3030FF, 0, 0, 0, 0};
  hw->ops->show_leds(hw, leds); /* before start: kept, drawn once started */
  assert_int_equal(hw->ops->start(hw, &sink.base, err, sizeof err), 0);
  assert_true(pty_expect(&p, "\x1B[38;2;255;48;48m\xE2\x97\x8F\x1B[39m led_1", 2000));
  device_view v = {.device_id = "pty-dev", .server = "127.0.0.1:1", .connection = "connected",
                   .playing = true, .buffered_ms = 40, .last_latency_ms = 12.2};
  hw->ops->show_view(hw, &v);
  assert_true(pty_expect(&p, "state: connected  device: pty-dev  server: 127.0.0.1:1", 2000));
  assert_true(pty_expect(&p, "playing  buffered 40 ms  latency 12 ms", 2000));
  pty_forget(&p);
  leds[1] = 0;
  leds[2] = 0x30E030FF;
  hw->ops->show_leds(hw, leds);
  assert_true(pty_expect(&p, "\x1B[38;2;48;224;48m\xE2\x97\x8F\x1B[39m led_2", 2000));
  /* A resize redraws for the new size. */
  pty_forget(&p);
  struct winsize ws = {.ws_row = 10, .ws_col = 30};
  assert_int_equal(ioctl(p.master, TIOCSWINSZ, &ws), 0);
  hw->ops->show_view(hw, &v);
  assert_true(pty_expect(&p, "\x1B[2J", 2000));
  assert_true(pty_expect(&p, "state: connected  device: pt", 2000));
  hw->ops->destroy(hw);
  pty_close(&p);
}

static void keys_become_inputs(void **unused) {
  (void)unused;
  pty p;
  pty_open(&p);
  hw_backend *hw = make(&p, TERM_COLOUR_NONE);
  rec_sink sink;
  rec_init(&sink);
  char err[256];
  assert_int_equal(hw->ops->start(hw, &sink.base, err, sizeof err), 0);
  int64_t sent = clock_now_ns();
  assert_int_equal(write(p.master, "m", 1), 1);
  assert_int_equal(rec_wait(&sink, 1, 2000), 1);
  assert_int_equal(sink.got[0].kind, INPUT_BUTTON);
  assert_int_equal(sink.got[0].button, BUTTON_MODE);
  assert_int_equal(sink.got[0].event, EVENT_PRESS);
  assert_true(sink.got[0].at_ns >= sent);
  assert_true(sink.got[0].at_ns - sent < 500 * NS_PER_MS); /* at once */
  bool held[BUTTON_COUNT];
  hw->ops->read_buttons(hw, held);
  assert_true(held[BUTTON_MODE]);
  assert_false(held[BUTTON_PLAY]);
  assert_true(pty_expect(&p, "last: mode PRESS", 2000));

  /* Autorepeat of p past hold_ms (300 here): PRESS, HOLD, then RELEASE. */
  for (int i = 0; i < 20; i++) {
    assert_int_equal(write(p.master, "p", 1), 1);
    usleep(30000);
  }
  assert_int_equal(rec_wait(&sink, 5, 2000), 5);
  assert_int_equal(sink.got[1].button, BUTTON_MODE);
  assert_int_equal(sink.got[1].event, EVENT_RELEASE);
  assert_int_equal(sink.got[2].button, BUTTON_PLAY);
  assert_int_equal(sink.got[2].event, EVENT_PRESS);
  assert_int_equal(sink.got[3].event, EVENT_HOLD);
  assert_int_equal(sink.got[4].event, EVENT_RELEASE);
  hw->ops->read_buttons(hw, held);
  for (int i = 0; i < BUTTON_COUNT; i++) assert_false(held[i]);

  /* An arrow key is no button; q and Ctrl-D quit. */
  assert_int_equal(write(p.master, "\x1B[A", 3), 3);
  assert_int_equal(write(p.master, "q\x04", 2), 2);
  assert_int_equal(rec_wait(&sink, 7, 2000), 7);
  assert_int_equal(sink.got[5].kind, INPUT_QUIT);
  assert_int_equal(sink.got[6].kind, INPUT_QUIT);
  hw->ops->destroy(hw);
  pty_close(&p);
}

static void hangup_quits(void **unused) {
  (void)unused;
  pty p;
  pty_open(&p);
  hw_backend *hw = make(&p, TERM_COLOUR_NONE);
  rec_sink sink;
  rec_init(&sink);
  char err[256];
  assert_int_equal(hw->ops->start(hw, &sink.base, err, sizeof err), 0);
  assert_true(pty_expect(&p, "c connect/disconnect", 2000));
  close(p.master); /* the terminal window closes */
  p.master = -1;
  assert_int_equal(rec_wait(&sink, 1, 2000), 1);
  assert_int_equal(sink.got[0].kind, INPUT_QUIT);
  hw->ops->destroy(hw); /* must not hang or crash on a dead terminal */
  pty_close(&p);
}

static void one_at_a_time(void **unused) {
  (void)unused;
  pty p, q;
  pty_open(&p);
  pty_open(&q);
  hw_backend *a = make(&p, TERM_COLOUR_NONE), *b = make(&q, TERM_COLOUR_NONE);
  rec_sink sink;
  rec_init(&sink);
  char err[256];
  assert_int_equal(a->ops->start(a, &sink.base, err, sizeof err), 0);
  assert_int_equal(b->ops->start(b, &sink.base, err, sizeof err), -1);
  a->ops->destroy(a);
  assert_int_equal(b->ops->start(b, &sink.base, err, sizeof err), 0);
  b->ops->destroy(b);
  pty_close(&p);
  pty_close(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refuses_a_non_terminal),
      cmocka_unit_test(sets_up_and_puts_back_the_terminal),
      cmocka_unit_test(draws_leds_and_view),
      cmocka_unit_test(keys_become_inputs),
      cmocka_unit_test(hangup_quits),
      cmocka_unit_test(one_at_a_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
