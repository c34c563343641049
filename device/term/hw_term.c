/* The terminal back end (--sim). One thread of its own, the UI thread,
 * reads the keys and does all the drawing: show_leds and show_view only
 * copy the state and wake it, so a slow or stalled terminal (SSH, a paused
 * tmux pane) never blocks the device loop. */
#define _DEFAULT_SOURCE /* SA_RESETHAND, TIOCGWINSZ */

#include "term/hw_term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "term/term_keys.h"

#define FRAME_CAP 32768
#define DEFAULT_WIDTH 80
#define DEFAULT_HEIGHT 24

/* Alternate screen, hidden cursor, no autowrap (a glyph drawn two columns
 * wide by some terminals gets clipped, not wrapped), cleared. */
static const char ENTER_SEQ[] = "\x1B[?1049h\x1B[?25l\x1B[?7l\x1B[0m\x1B[2J";
/* Attributes off, autowrap and cursor back, main screen back. */
static const char LEAVE_SEQ[] = "\x1B[0m\x1B[?7h\x1B[?25h\x1B[?1049l";

typedef struct hw_term {
  hw_backend base;
  hw_term_options opts;
  term_style style;
  input_sink *sink;
  bool started;
  struct termios saved;
  int wake[2]; /* the UI thread polls wake[0] */
  pthread_t thread;
  atomic_bool stop;
  atomic_int held; /* for read_buttons: the held button or -1 */

  /* UI thread only. */
  term_keys keys;
  term_decoder decoder;
  bool input_closed;
  char *frame, *last_frame;
  size_t last_len;
  int width, height;
  bool garbled; /* a frame was cut short: the next one redraws everything */

  /* Shared with the device loop: under `mu`. */
  pthread_mutex_t mu;
  term_screen screen;
  char id[256], server[256], connection[64];
  bool dirty;
} hw_term;

/* ---- process-wide: what signal handlers and atexit need ---- */

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
#define CRASH_COUNT (sizeof crash_signals / sizeof *crash_signals)

static volatile sig_atomic_t g_active; /* the terminal is in our mode */
static volatile sig_atomic_t g_winch;
static int g_in_fd = -1, g_out_fd = -1;
static volatile int g_wake_fd = -1;
static struct termios g_saved;
static struct sigaction g_old_crash[CRASH_COUNT];
static bool g_crash_installed[CRASH_COUNT];
static struct sigaction g_old_winch;
static bool g_atexit_registered;
static hw_term *g_instance;
static pthread_mutex_t g_instance_mu = PTHREAD_MUTEX_INITIALIZER;

/* Async-signal-safe: write and tcsetattr only. */
static void restore_terminal(void) {
  if (!g_active) return;
  g_active = 0;
  ssize_t ignored = write(g_out_fd, LEAVE_SEQ, sizeof LEAVE_SEQ - 1);
  (void)ignored;
  tcsetattr(g_in_fd, TCSANOW, &g_saved);
}

static void on_crash(int sig) {
  int saved_errno = errno;
  restore_terminal();
  /* The previous action (the default: die, maybe dump core; or a
   * sanitizer's report) gets the signal: at once for a re-raised one, or
   * when the faulting instruction runs again after we return. */
  for (size_t i = 0; i < CRASH_COUNT; i++)
    if (crash_signals[i] == sig) sigaction(sig, &g_old_crash[i], NULL);
  raise(sig);
  errno = saved_errno;
}

static void on_winch(int sig) {
  (void)sig;
  int saved_errno = errno;
  g_winch = 1;
  int fd = g_wake_fd;
  if (fd >= 0) {
    ssize_t ignored = write(fd, "w", 1);
    (void)ignored;
  }
  errno = saved_errno;
}

static void at_exit_restore(void) { restore_terminal(); }

static void install_handlers(void) {
  struct sigaction sa = {.sa_handler = on_crash, .sa_flags = SA_RESETHAND};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < CRASH_COUNT; i++) {
    struct sigaction cur;
    g_crash_installed[i] = false;
    if (sigaction(crash_signals[i], NULL, &cur) != 0) continue;
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN) continue;
    g_old_crash[i] = cur;
    g_crash_installed[i] = sigaction(crash_signals[i], &sa, NULL) == 0;
  }
  struct sigaction wa = {.sa_handler = on_winch, .sa_flags = SA_RESTART};
  sigemptyset(&wa.sa_mask);
  sigaction(SIGWINCH, &wa, &g_old_winch);
  if (!g_atexit_registered) g_atexit_registered = atexit(at_exit_restore) == 0;
}

/* Puts back the previous actions, unless someone replaced ours meanwhile. */
static void remove_handlers(void) {
  struct sigaction cur;
  for (size_t i = 0; i < CRASH_COUNT; i++) {
    if (!g_crash_installed[i]) continue;
    if (sigaction(crash_signals[i], NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
        cur.sa_handler == on_crash)
      sigaction(crash_signals[i], &g_old_crash[i], NULL);
    g_crash_installed[i] = false;
  }
  if (sigaction(SIGWINCH, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
      cur.sa_handler == on_winch)
    sigaction(SIGWINCH, &g_old_winch, NULL);
}

/* ---- output ---- */

/* False when the terminal stalled or failed before all of it was written. */
static bool write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      if (poll(&p, 1, 1000) <= 0) return false; /* stalled: drop the rest of this frame */
    } else if (n < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

static void read_size(hw_term *t, int *width, int *height) {
  struct winsize ws;
  *width = DEFAULT_WIDTH;
  *height = DEFAULT_HEIGHT;
  if (ioctl(t->opts.out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    *width = ws.ws_col;
    *height = ws.ws_row;
  }
}

/* UI thread: draws the latest state when it changed or the size did. */
static void draw(hw_term *t, bool force) {
  int width, height;
  read_size(t, &width, &height);
  bool resized = width != t->width || height != t->height || t->garbled;
  t->width = width;
  t->height = height;

  term_screen s;
  char id[sizeof t->id], server[sizeof t->server], connection[sizeof t->connection];
  pthread_mutex_lock(&t->mu);
  bool dirty = t->dirty;
  t->dirty = false;
  s = t->screen;
  memcpy(id, t->id, sizeof id);
  memcpy(server, t->server, sizeof server);
  memcpy(connection, t->connection, sizeof connection);
  pthread_mutex_unlock(&t->mu);
  if (!dirty && !resized && !force) return;
  s.view.device_id = id;
  s.view.server = server;
  s.view.connection = connection;
  s.held = atomic_load(&t->held);

  size_t len = term_render_screen(t->frame, FRAME_CAP, &s, &t->style, width, height);
  if (len == 0) return;
  if (!resized && !force && len == t->last_len && memcmp(t->frame, t->last_frame, len) == 0)
    return;
  bool ok = true;
  if (resized || force) ok = write_all(t->opts.out_fd, "\x1B[2J", 4);
  if (ok) ok = write_all(t->opts.out_fd, t->frame, len);
  t->garbled = !ok;
  memcpy(t->last_frame, t->frame, len);
  t->last_len = len;
}

static void mark_dirty(hw_term *t) {
  pthread_mutex_lock(&t->mu);
  t->dirty = true;
  pthread_mutex_unlock(&t->mu);
  if (t->started) {
    ssize_t ignored = write(t->wake[1], "d", 1); /* full pipe: a wake-up is pending anyway */
    (void)ignored;
  }
}

/* ---- input ---- */

static void push(hw_term *t, input_kind kind, int button, int event, int64_t at) {
  device_input in = {.kind = kind, .button = button, .event = event, .at_ns = at};
  t->sink->push(t->sink, &in);
}

static void deliver(hw_term *t, const term_key_event *ev, int n) {
  if (n == 0) return;
  atomic_store(&t->held, term_keys_held(&t->keys));
  for (int i = 0; i < n; i++) push(t, INPUT_BUTTON, ev[i].button, ev[i].event, ev[i].at_ns);
  pthread_mutex_lock(&t->mu);
  t->screen.last_button = ev[n - 1].button;
  t->screen.last_event = ev[n - 1].event;
  t->dirty = true;
  pthread_mutex_unlock(&t->mu);
}

static void read_keys(hw_term *t) {
  unsigned char buf[256];
  ssize_t n = read(t->opts.in_fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  int64_t now = clock_now_ns();
  if (n <= 0) { /* the terminal is gone (EOF, EIO on hangup) */
    log_info("terminal closed (%s): quitting", n == 0 ? "end of input" : strerror(errno));
    t->input_closed = true;
    push(t, INPUT_QUIT, 0, 0, now);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    int key = term_decode_byte(&t->decoder, buf[i], now);
    if (key == TERM_KEY_QUIT) {
      push(t, INPUT_QUIT, 0, 0, now);
    } else if (key >= 0) {
      term_key_event ev[TERM_KEYS_MAX_EVENTS];
      deliver(t, ev, term_keys_key(&t->keys, key, now, ev));
    }
  }
}

static void *ui_thread(void *arg) {
  hw_term *t = arg;
  /* Signals other than faults and SIGWINCH go to the program's threads. */
  sigset_t set;
  sigfillset(&set);
  for (size_t i = 0; i < CRASH_COUNT; i++) sigdelset(&set, crash_signals[i]);
  sigdelset(&set, SIGWINCH);
  pthread_sigmask(SIG_SETMASK, &set, NULL);

  draw(t, true);
  while (!atomic_load(&t->stop)) {
    int timeout = -1;
    int64_t deadline = term_keys_deadline(&t->keys), now = clock_now_ns();
    if (deadline != INT64_MAX)
      timeout = deadline <= now ? 0 : (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
    if (t->garbled && (timeout < 0 || timeout > 1000)) timeout = 1000; /* try that frame again */
    struct pollfd p[2] = {{.fd = t->wake[0], .events = POLLIN},
                          {.fd = t->opts.in_fd, .events = POLLIN}};
    int r = poll(p, t->input_closed ? 1 : 2, timeout);
    if (atomic_load(&t->stop)) break;
    if (r < 0) {
      if (errno != EINTR) break;
      continue;
    }
    if (p[0].revents & POLLIN) {
      char drain[64];
      while (read(t->wake[0], drain, sizeof drain) > 0) {
      }
    }
    if (!t->input_closed && (p[1].revents & POLLNVAL)) { /* the fd was closed under us */
      t->input_closed = true;
      push(t, INPUT_QUIT, 0, 0, clock_now_ns());
    } else if (!t->input_closed && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      read_keys(t);
    }
    term_key_event ev[TERM_KEYS_MAX_EVENTS];
    deliver(t, ev, term_keys_tick(&t->keys, clock_now_ns(), ev));
    bool resized = g_winch;
    g_winch = 0;
    draw(t, resized);
  }
  return NULL;
}

/* ---- hw_ops ---- */

static int set_flags(int fd, int fd_flags, int fl_flags) {
  int f = fcntl(fd, F_GETFD);
  int g = fcntl(fd, F_GETFL);
  if (f < 0 || g < 0) return -1;
  if (fcntl(fd, F_SETFD, f | fd_flags) < 0 || fcntl(fd, F_SETFL, g | fl_flags) < 0) return -1;
  return 0;
}

static int term_start(hw_backend *hw, input_sink *sink, char *err, size_t err_len) {
  hw_term *t = (hw_term *)hw;
  int in = t->opts.in_fd, out = t->opts.out_fd;
  if (t->started) {
    snprintf(err, err_len, "the terminal back end is already started");
    return -1;
  }
  if (!isatty(in)) {
    snprintf(err, err_len, "%s", HW_TERM_NOT_A_TTY);
    return -1;
  }
  if (!isatty(out)) {
    snprintf(err, err_len, "--sim needs a terminal on stdout; use --script for non-interactive runs");
    return -1;
  }
  struct termios saved;
  if (tcgetattr(in, &saved) != 0) {
    snprintf(err, err_len, "cannot read the terminal's settings: %s", strerror(errno));
    return -1;
  }
  pthread_mutex_lock(&g_instance_mu);
  if (g_instance) {
    pthread_mutex_unlock(&g_instance_mu);
    snprintf(err, err_len, "another terminal back end is running");
    return -1;
  }
  g_instance = t;
  pthread_mutex_unlock(&g_instance_mu);

  if (pipe(t->wake) != 0 || set_flags(t->wake[0], FD_CLOEXEC, O_NONBLOCK) != 0 ||
      set_flags(t->wake[1], FD_CLOEXEC, O_NONBLOCK) != 0) {
    snprintf(err, err_len, "cannot make a pipe: %s", strerror(errno));
    goto fail_pipe;
  }

  t->sink = sink;
  t->saved = saved;
  g_saved = saved;
  g_in_fd = in;
  g_out_fd = out;
  g_wake_fd = t->wake[1];
  install_handlers();

  /* Keys one by one, no echo; Ctrl-C still raises SIGINT (ISIG stays);
   * Ctrl-Z is disabled (suspending would leave the screen as it is);
   * Ctrl-S/Ctrl-Q flow control off, so output can never be frozen. */
  struct termios raw = saved;
  raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
  raw.c_iflag &= ~(tcflag_t)IXON;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  raw.c_cc[VSUSP] = _POSIX_VDISABLE;
  if (tcsetattr(in, TCSANOW, &raw) != 0) {
    snprintf(err, err_len, "cannot set up the terminal: %s", strerror(errno));
    goto fail_mode;
  }
  g_active = 1;
  write_all(out, ENTER_SEQ, sizeof ENTER_SEQ - 1);

  t->started = true;
  int rc = pthread_create(&t->thread, NULL, ui_thread, t);
  if (rc != 0) {
    snprintf(err, err_len, "cannot start the input thread: %s", strerror(rc));
    t->started = false;
    restore_terminal();
    goto fail_mode;
  }
  return 0;

fail_mode:
  remove_handlers();
  g_wake_fd = -1;
  close(t->wake[0]);
  close(t->wake[1]);
fail_pipe:
  t->wake[0] = t->wake[1] = -1;
  pthread_mutex_lock(&g_instance_mu);
  g_instance = NULL;
  pthread_mutex_unlock(&g_instance_mu);
  return -1;
}

static void term_show_leds(hw_backend *hw, const uint32_t leds[LED_COUNT]) {
  hw_term *t = (hw_term *)hw;
  pthread_mutex_lock(&t->mu);
  memcpy(t->screen.leds, leds, sizeof t->screen.leds);
  pthread_mutex_unlock(&t->mu);
  mark_dirty(t);
}

static void copy_text(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

static void term_show_view(hw_backend *hw, const device_view *view) {
  hw_term *t = (hw_term *)hw;
  pthread_mutex_lock(&t->mu);
  t->screen.view = *view;
  t->screen.have_view = true;
  copy_text(t->id, sizeof t->id, view->device_id);
  copy_text(t->server, sizeof t->server, view->server);
  copy_text(t->connection, sizeof t->connection, view->connection);
  pthread_mutex_unlock(&t->mu);
  mark_dirty(t);
}

static void term_read_buttons(hw_backend *hw, bool pressed[BUTTON_COUNT]) {
  hw_term *t = (hw_term *)hw;
  int held = atomic_load(&t->held);
  for (int i = 0; i < BUTTON_COUNT; i++) pressed[i] = i == held;
}

static void term_destroy(hw_backend *hw) {
  hw_term *t = (hw_term *)hw;
  if (!t) return;
  if (t->started) {
    atomic_store(&t->stop, true);
    ssize_t ignored = write(t->wake[1], "q", 1);
    (void)ignored;
    pthread_join(t->thread, NULL);
    restore_terminal();
    remove_handlers();
    g_wake_fd = -1;
    close(t->wake[0]);
    close(t->wake[1]);
    pthread_mutex_lock(&g_instance_mu);
    g_instance = NULL;
    pthread_mutex_unlock(&g_instance_mu);
  }
  pthread_mutex_destroy(&t->mu);
  free(t->frame);
  free(t->last_frame);
  free(t);
}

static const hw_ops term_ops = {
    .start = term_start,
    .show_leds = term_show_leds,
    .show_view = term_show_view,
    .read_buttons = term_read_buttons,
    .destroy = term_destroy,
};

hw_term_options hw_term_options_default(void) {
  return (hw_term_options){.in_fd = 0, .out_fd = 1, .colour = TERM_COLOUR_AUTO,
                           .glyphs = TERM_GLYPHS_AUTO, .hold_ms = TERM_DEFAULT_HOLD_MS};
}

hw_backend *hw_term_create(const hw_term_options *opts) {
  hw_term *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->frame = malloc(FRAME_CAP);
  t->last_frame = malloc(FRAME_CAP);
  if (!t->frame || !t->last_frame) {
    free(t->frame);
    free(t->last_frame);
    free(t);
    return NULL;
  }
  t->base.ops = &term_ops;
  t->opts = opts ? *opts : hw_term_options_default();
  t->style.colour = term_colour_resolve(t->opts.colour, getenv("NO_COLOR"), getenv("COLORTERM"),
                                        getenv("TERM"));
  t->style.ascii = t->opts.glyphs == TERM_GLYPHS_ASCII ||
                   (t->opts.glyphs == TERM_GLYPHS_AUTO &&
                    !term_utf8_resolve(getenv("LC_ALL"), getenv("LC_CTYPE"), getenv("LANG")));
  term_key_timing timing = term_key_timing_default(t->opts.hold_ms);
  term_keys_init(&t->keys, &timing);
  atomic_init(&t->stop, false);
  atomic_init(&t->held, -1);
  pthread_mutex_init(&t->mu, NULL);
  t->wake[0] = t->wake[1] = -1;
  t->screen.held = -1;
  t->screen.last_button = -1;
  t->dirty = true;
  return &t->base;
}
