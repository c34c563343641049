#include "stop_signal.h"

#include <stddef.h>

volatile sig_atomic_t stop_signals;
volatile sig_atomic_t stop_signal_first;
volatile sig_atomic_t reload_signals;

static void on_stop_signal(int sig) {
  if (stop_signal_first == 0) stop_signal_first = sig;
  if (stop_signals < 2) stop_signals++;
}

static void on_reload_signal(int sig) {
  (void)sig;
  reload_signals++;
}

void stop_signal_install(bool hangup_reloads) {
  struct sigaction sa = {.sa_handler = on_stop_signal}, reload = {.sa_handler = on_reload_signal};
  sigemptyset(&sa.sa_mask);
  sigemptyset(&reload.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* Else a closed terminal: stop cleanly. */
  sigaction(SIGHUP, hangup_reloads ? &reload : &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

const char *stop_signal_name(int sig) {
  switch (sig) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  case SIGHUP:
    return "SIGHUP";
  default:
    return "a signal";
  }
}
