#include "stop_signal.h"

#include <stddef.h>

volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig) {
  (void)sig;
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
