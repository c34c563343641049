/* The terminal's mode for the terminal back end, and putting it back
 * however the process ends: by the back end's destroy, on exit() (atexit),
 * or on a crash signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT:
 * put back, then the signal's previous action runs). Ctrl-C, SIGTERM and
 * SIGHUP stay the program's: it quits cleanly and so calls destroy.
 *
 * Signal handlers and atexit can reach only globals, so this state is
 * process-wide, one terminal at a time; SIGWINCH's handler lives here too,
 * being the other handler the back end installs. Not thread-safe except
 * where said: the back end's start and destroy call it. */
#ifndef OPAL_TERM_RESTORE_H
#define OPAL_TERM_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

/* Takes the one terminal a process may drive; false when it is taken.
 * Thread-safe. */
bool term_restore_claim(void);
void term_restore_unclaim(void);

/* Records what to put back (`saved`, the settings of `in_fd`; `out_fd` gets
 * the sequences) and installs the handlers. SIGWINCH writes a byte to
 * `wake_fd` (non-blocking) to wake the UI thread. */
void term_restore_arm(int in_fd, int out_fd, const struct termios *saved, int wake_fd);

/* Enters the mode: keys one by one without echo, flow control and Ctrl-Z
 * off, the alternate screen without cursor or autowrap. -1 with one line
 * in `err` when the terminal refuses the settings (nothing changed then). */
int term_restore_enter(char *err, size_t err_len);

/* Puts the terminal back if it is in the mode. Async-signal-safe. */
void term_restore_now(void);

/* Puts back the handlers that were there before term_restore_arm (unless
 * someone replaced ours meanwhile) and forgets the wake fd. The atexit
 * restore stays registered; it does nothing once the terminal is back. */
void term_restore_disarm(void);

/* Whether SIGWINCH came since the last call. Async-signal-safe. */
bool term_restore_take_resize(void);

/* Blocks, in the calling thread, every signal but the ones handled here,
 * so the program's own threads get SIGINT, SIGTERM, SIGHUP and the like. */
void term_restore_mask_thread(void);

#endif
