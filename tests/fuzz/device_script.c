/* The device's script files (--script FILE, device/script/script.c): the
 * input is a whole file, loaded as the program loads it. A script it
 * accepts has only commands the runner can carry out (known buttons,
 * events and watches, waits within their bound) in the order of their
 * lines; a refused one holds nothing and its error names the file. */
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_file.h"
#include "script/script.h"

#define MAX_WAIT_MS 3600000u /* the longest wait or timeout the language takes */

static void check_command(const script_command *c) {
  switch (c->op) {
  case SCRIPT_BUTTON:
    FUZZ_CHECK(c->button >= 0 && c->button < BUTTON_COUNT);
    FUZZ_CHECK(c->event >= 0 && c->event < EVENT_COUNT);
    break;
  case SCRIPT_WAIT:
    FUZZ_CHECK(c->ms <= MAX_WAIT_MS);
    break;
  case SCRIPT_WAIT_FOR:
    FUZZ_CHECK((int)c->watch >= 0 && c->watch < WATCH_COUNT && c->ms <= MAX_WAIT_MS);
    FUZZ_CHECK(script_watch_name(c->watch)[0] != '\0');
    break;
  case SCRIPT_CONNECT:
  case SCRIPT_DISCONNECT:
  case SCRIPT_QUIT:
    break;
  default:
    FUZZ_CHECK(!"a command the runner does not know");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  script s;
  char err[512] = "";
  const char *path = fuzz_file(data, size);
  if (script_load(path, &s, err, sizeof err) != 0) {
    FUZZ_CHECK(s.commands == NULL && s.count == 0);
    FUZZ_CHECK(strstr(err, path) != NULL);
    return 0;
  }
  unsigned line = 0;
  for (size_t i = 0; i < s.count; i++) {
    FUZZ_CHECK(s.commands[i].line > line);
    line = s.commands[i].line;
    check_command(&s.commands[i]);
  }
  script_free(&s);
  return 0;
}
