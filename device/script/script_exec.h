/* Running a script without a thread of its own: a state machine the owner
 * steps whenever time passes or an event happens. The one place the
 * script language's meaning lives; the script back end (one device, a
 * thread) and the fleet (many devices, one loop) both drive it.
 *
 * wait-for EVENT waits for EVENT to happen after the last action (connect,
 * disconnect, press/hold/release) or the last wait-for of that event. */
#ifndef OPAL_SCRIPT_EXEC_H
#define OPAL_SCRIPT_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "script/script.h"

typedef struct script_exec {
  const script *script; /* borrowed */
  size_t pc;            /* the next command */
  int64_t wake_ns;      /* a wait or wait-for ends by then */
  bool waiting;         /* inside a wait or wait-for */
  unsigned seen[WATCH_COUNT], mark[WATCH_COUNT];
  bool done;
  const script_command *timed_out; /* the wait-for that failed, or NULL */
} script_exec;

/* Carries out an action command (connect, disconnect, a button). */
typedef void (*script_act_fn)(void *ctx, const script_command *c);

void script_exec_init(script_exec *x, const script *s);

/* `w` happened. */
void script_exec_notify(script_exec *x, device_watch w);

/* Runs commands until one must wait, calling `act` for each action.
 * Returns when to step again at the latest (INT64_MAX when done); a
 * notify may make it worth stepping sooner. */
int64_t script_exec_step(script_exec *x, int64_t now_ns, script_act_fn act, void *ctx);

#endif
