/* A stand-in for libgpiod 1.6 (the functions device/gpio/hw_gpio.c and
 * gpio_input.c call, with the real <gpiod.h> prototypes), for the gpio
 * tests: no machine here has a gpiochip.
 *
 * One chip, with a name, a label and a number of lines. Each line has a
 * physical level: for an output, what was written (after active-low); for
 * an input, what the test drives, or, when the test drives nothing (an open
 * button), what its bias gives (pull-up 1, otherwise 0). Lines requested for
 * edge events get an event fd (a pipe): every change of the physical level
 * writes one event, whose type is the logical level read back after the
 * edge (RISING when it reads 1 after active-low), as the kernel's v1 line
 * events do. Tests can also write raw events.
 *
 * Calls that libgpiod would refuse for misuse (setting an input, reading
 * events from a line not requested for them, requesting a line twice) fail
 * as libgpiod does and are counted in fake_gpiod_misuse(). Every call is
 * logged as one text line ("request_output 5 flags=0x0 default=0
 * consumer=opal-device", "set_value 5 1", "release 5", "chip_close"). */
#ifndef OPAL_FAKE_GPIOD_H
#define OPAL_FAKE_GPIOD_H

#include <stdbool.h>
#include <stdint.h>

#define FAKE_MAX_LINES 64

typedef enum { FAKE_FREE, FAKE_OUTPUT, FAKE_INPUT, FAKE_EVENTS } fake_direction;

typedef struct fake_line {
  fake_direction direction; /* FAKE_FREE when not requested by us */
  int flags;                /* GPIOD_LINE_REQUEST_FLAG_* of the request */
  int event_type;           /* GPIOD_LINE_REQUEST_EVENT_* for FAKE_EVENTS */
  char consumer[32];
  int level; /* physical level now, 0 or 1 */
  int requests, releases, sets;
  bool held;        /* another program holds it */
  char held_by[32]; /* its consumer name, maybe "" */
  int fail_errno;   /* a request fails with this, when non-zero */
} fake_line;

/* Forgets everything; one chip "gpiochip0", label "pinctrl-bcm2711",
 * 58 lines, present. */
void fake_gpiod_reset(void);
void fake_gpiod_set_chip(const char *name, const char *label, unsigned num_lines);
void fake_gpiod_remove_chip(void);  /* lookups fail with ENOENT */
void fake_gpiod_fail_open(int err); /* opening fails with err */
/* Another program holds the line (requests fail with EBUSY); `consumer` may
 * be "" (gpiod_line_consumer gives NULL then). */
void fake_gpiod_hold_line(unsigned offset, const char *consumer);
void fake_gpiod_fail_request(unsigned offset, int err);

/* Drives an input: 0 or 1, or -1 for not driven (bias decides). `ts_ns` is
 * the event's timestamp (the kernel's, on CLOCK_MONOTONIC since Linux 5.7). */
void fake_gpiod_drive(unsigned offset, int level, int64_t ts_ns);
/* Writes one raw event (GPIOD_LINE_EVENT_RISING_EDGE or _FALLING_EDGE)
 * without changing the level. */
void fake_gpiod_inject(unsigned offset, int event_type, int64_t ts_ns);

fake_line fake_gpiod_line(unsigned offset); /* a snapshot */
int fake_gpiod_requested_count(void);       /* lines requested now */
int fake_gpiod_open_chips(void);
int fake_gpiod_misuse(void);
/* How many logged calls start with `prefix`; the index of the first logged
 * call equal to `call` at or after `from`, or -1. */
int fake_gpiod_count(const char *prefix);
int fake_gpiod_find(const char *call, int from);
int fake_gpiod_log_size(void);

#endif
