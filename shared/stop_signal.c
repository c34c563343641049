#include "stop_signal.h"

#include <stddef.h>

volatile sig_atomic_t stop_signals;
volatile sig_atomic_t stop_signal_first;

static void on_stop_signal(int sig) {
  if (stop_signal_first == 0) stop_signal_first = sig;
  if (stop_signals < 2) stop_signals++;
}

void stop_signal_install(void) {
  struct sigaction sa = {.sa_handler = on_stop_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL); /* a closed terminal: stop cleanly */
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
