/* Script mode (--script FILE|-): the commands a test or demo feeds the
 * device instead of a person pressing buttons. One command per line; '#'
 * starts a comment.
 *
 *   connect | disconnect           open or close the connection
 *   press BUTTON | hold BUTTON | release BUTTON
 *                                  BUTTON: connect, mode, stop, play
 *   wait MS                        sleep
 *   wait-for EVENT [TIMEOUT_MS]    until EVENT happens (default 10000 ms);
 *                                  EVENT: connected, disconnected,
 *                                  stream_start, stream_end, ack, leds
 *   quit                           end the program
 */
#ifndef OPAL_SCRIPT_H
#define OPAL_SCRIPT_H

#include <stddef.h>

#include "hw/hw.h"

typedef enum {
  SCRIPT_CONNECT,
  SCRIPT_DISCONNECT,
  SCRIPT_BUTTON, /* button, event */
  SCRIPT_WAIT,   /* ms */
  SCRIPT_WAIT_FOR, /* watch, ms */
  SCRIPT_QUIT,
} script_op;

typedef struct script_command {
  script_op op;
  int button, event;
  device_watch watch; /* what wait-for waits for */
  unsigned ms;
  unsigned line;
} script_command;

typedef struct script {
  script_command *commands;
  size_t count;
} script;

#define SCRIPT_DEFAULT_WAIT_FOR_MS 10000

/* Parses `text`. Returns 0, or -1 with "line N: ..." in `err`. The caller
 * frees the result with script_free. */
int script_parse(const char *text, script *out, char *err, size_t err_len);

/* Reads a file ("-" for stdin) and parses it; errors name the file. */
int script_load(const char *path, script *out, char *err, size_t err_len);

void script_free(script *s);

/* A watch as the script language spells it: "stream_start", ... */
const char *script_watch_name(device_watch w);

#endif
