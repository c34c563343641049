/* The script parser: every command, comments, and errors naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/hw.h"
#include "script/script.h"

static void every_command(void **unused) {
  (void)unused;
  const char *text =
      "# a demo\n"
      "connect\n"
      "\n"
      "press mode   # next mode\n"
      "hold play\n"
      "release stop\n"
      "press connect\n"
      "wait 250\n"
      "wait-for stream_end\n"
      "wait-for ack 500\n"
      "disconnect\n"
      "quit\n";
  script s;
  char err[200] = "";
  assert_int_equal(script_parse(text, &s, err, sizeof err), 0);
  assert_int_equal(s.count, 10);
  const script_command *c = s.commands;
  assert_int_equal(c[0].op, SCRIPT_CONNECT);
  assert_int_equal(c[0].line, 2);
  assert_int_equal(c[1].op, SCRIPT_BUTTON);
  assert_int_equal(c[1].button, BUTTON_MODE);
  assert_int_equal(c[1].event, EVENT_PRESS);
  assert_int_equal(c[1].line, 4);
  assert_int_equal(c[2].button, BUTTON_PLAY);
  assert_int_equal(c[2].event, EVENT_HOLD);
  assert_int_equal(c[3].button, BUTTON_STOP);
  assert_int_equal(c[3].event, EVENT_RELEASE);
  assert_int_equal(c[4].button, BUTTON_CONNECT);
  assert_int_equal(c[5].op, SCRIPT_WAIT);
  assert_int_equal(c[5].ms, 250);
  assert_int_equal(c[6].op, SCRIPT_WAIT_FOR);
  assert_int_equal(c[6].watch, WATCH_STREAM_END);
  assert_int_equal(c[6].ms, SCRIPT_DEFAULT_WAIT_FOR_MS);
  assert_int_equal(c[7].watch, WATCH_ACK);
  assert_int_equal(c[7].ms, 500);
  assert_int_equal(c[8].op, SCRIPT_DISCONNECT);
  assert_int_equal(c[9].op, SCRIPT_QUIT);
  script_free(&s);
}

static void expect_error(const char *text, const char *fragment) {
  script s;
  char err[200] = "";
  assert_int_equal(script_parse(text, &s, err, sizeof err), -1);
  if (!strstr(err, fragment)) fail_msg("'%s' lacks '%s'", err, fragment);
  assert_null(s.commands);
}

static void errors_name_the_line(void **unused) {
  (void)unused;
  expect_error("connect\njump\n", "line 2: jump: unknown command");
  expect_error("press\n", "line 1: press: expected");
  expect_error("press elbow\n", "unknown button");
  expect_error("\n\nwait soon\n", "line 3: wait");
  expect_error("wait -1\n", "line 1");
  expect_error("wait-for lunch\n", "unknown event");
  expect_error("wait-for ack 1 2\n", "too many words");
  expect_error("quit now\n", "takes no argument");
}

static void empty_script_is_valid(void **unused) {
  (void)unused;
  script s;
  char err[200];
  assert_int_equal(script_parse("# nothing\n\n   \n", &s, err, sizeof err), 0);
  assert_int_equal(s.count, 0);
  script_free(&s);
}

static void load_names_the_file(void **unused) {
  (void)unused;
  script s;
  char err[300] = "";
  assert_int_equal(script_load("/nonexistent/opal.script", &s, err, sizeof err), -1);
  assert_non_null(strstr(err, "--script /nonexistent/opal.script"));

  char path[] = "/tmp/opal-script-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "connect\nfly\n", 12), 12);
  close(fd);
  assert_int_equal(script_load(path, &s, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "line 2"));
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_command),
      cmocka_unit_test(errors_name_the_line),
      cmocka_unit_test(empty_script_is_valid),
      cmocka_unit_test(load_names_the_file),
  };
  return cmocka_run_group_tests_name("script", tests, NULL, NULL);
}
