#define _DEFAULT_SOURCE /* SA_RESETHAND */

#include "term/term_restore.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "term/term_frame.h"

/* Alternate screen, hidden cursor, no autowrap (a glyph drawn two columns
 * wide by some terminals gets clipped, not wrapped), cleared. */
static const char ENTER_SEQ[] = "\x1B[?1049h\x1B[?25l\x1B[?7l\x1B[0m\x1B[2J";
/* Attributes off, autowrap and cursor back, main screen back. */
static const char LEAVE_SEQ[] = "\x1B[0m\x1B[?7h\x1B[?25h\x1B[?1049l";

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
static bool g_claimed;
static pthread_mutex_t g_claim_mu = PTHREAD_MUTEX_INITIALIZER;

bool term_restore_claim(void) {
  pthread_mutex_lock(&g_claim_mu);
  bool ok = !g_claimed;
  g_claimed = true;
  pthread_mutex_unlock(&g_claim_mu);
  return ok;
}

void term_restore_unclaim(void) {
  pthread_mutex_lock(&g_claim_mu);
  g_claimed = false;
  pthread_mutex_unlock(&g_claim_mu);
}

/* Signal handlers call this: write and tcsetattr only. */
void term_restore_now(void) {
  if (!g_active) return;
  g_active = 0;
  ssize_t ignored = write(g_out_fd, LEAVE_SEQ, sizeof LEAVE_SEQ - 1);
  (void)ignored;
  tcsetattr(g_in_fd, TCSANOW, &g_saved);
}

static void on_crash(int sig) {
  int saved_errno = errno;
  term_restore_now();
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

static void at_exit_restore(void) { term_restore_now(); }

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

void term_restore_arm(int in_fd, int out_fd, const struct termios *saved, int wake_fd) {
  g_saved = *saved;
  g_in_fd = in_fd;
  g_out_fd = out_fd;
  g_wake_fd = wake_fd;
  install_handlers();
}

int term_restore_enter(char *err, size_t err_len) {
  /* Ctrl-C keeps raising SIGINT (ISIG stays), so the program quits cleanly;
   * suspending would leave the screen as it is, so Ctrl-Z is off; so is
   * Ctrl-S/Ctrl-Q flow control, so output can never be frozen. */
  struct termios raw = g_saved;
  raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
  raw.c_iflag &= ~(tcflag_t)IXON;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  raw.c_cc[VSUSP] = _POSIX_VDISABLE;
  if (tcsetattr(g_in_fd, TCSANOW, &raw) != 0) {
    snprintf(err, err_len, "cannot set up the terminal: %s", strerror(errno));
    return -1;
  }
  g_active = 1;
  term_write_all(g_out_fd, ENTER_SEQ, sizeof ENTER_SEQ - 1);
  return 0;
}

void term_restore_disarm(void) {
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
  g_wake_fd = -1;
}

bool term_restore_take_resize(void) {
  bool resized = g_winch;
  g_winch = 0;
  return resized;
}

void term_restore_mask_thread(void) {
  sigset_t set;
  sigfillset(&set);
  for (size_t i = 0; i < CRASH_COUNT; i++) sigdelset(&set, crash_signals[i]);
  sigdelset(&set, SIGWINCH);
  pthread_sigmask(SIG_SETMASK, &set, NULL);
}
