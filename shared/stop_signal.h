/* SIGINT, SIGTERM and SIGHUP ask a program to stop: the handler only counts
 * them, and the program's loop looks at the count (a second signal can
 * mean "stop now"). A server may make SIGHUP ask for a reload instead
 * (counted apart). SIGPIPE is ignored: a closed socket is an error code. */
#ifndef OPAL_STOP_SIGNAL_H
#define OPAL_STOP_SIGNAL_H

#include <signal.h>
#include <stdbool.h>

extern volatile sig_atomic_t stop_signals; /* 0, 1 or 2 (and more is 2) */
extern volatile sig_atomic_t stop_signal_first; /* the first one's number, 0 before */
extern volatile sig_atomic_t reload_signals; /* SIGHUPs, when they ask for a reload */

/* `hangup_reloads`: SIGHUP counts in reload_signals rather than stopping
 * (a daemon's convention; a terminal program stops on its hangup). */
void stop_signal_install(bool hangup_reloads);

/* "SIGINT", "SIGTERM" or "SIGHUP" for a signal this module handles, for
 * logs that say why a program stopped; "a signal" otherwise. */
const char *stop_signal_name(int sig);

#endif
