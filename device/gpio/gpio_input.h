/* The gpio back end's input thread: it waits (poll) on the buttons' event
 * fds, the next HOLD or debounce deadline and a stop pipe, and turns edges
 * into PRESS, HOLD and RELEASE (button_timing.h) pushed to the sink,
 * stamped with the kernel's time of the edge, in time order across buttons.
 * The back end requests the lines; this only reads them. */
#ifndef OPAL_GPIO_INPUT_H
#define OPAL_GPIO_INPUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpio/button_timing.h"
#include "gpio/gpio_config.h"
#include "hw/hw.h"

struct gpiod_line;

typedef struct gpio_input {
  struct gpiod_line *buttons[BUTTON_COUNT]; /* borrowed from the back end */
  unsigned lines[BUTTON_COUNT];             /* their offsets, for messages */
  input_sink *sink;
  int stop_pipe[2];
  pthread_t thread;
  bool running;
  pthread_mutex_t lock; /* guards timing: the input thread and read_buttons */
  button_timing timing[BUTTON_COUNT];
} gpio_input;

void gpio_input_init(gpio_input *in);
/* Stops the thread if it runs; the lines stay the back end's. */
void gpio_input_free(gpio_input *in);

/* Takes the requested button lines and reads their levels, which the
 * timing starts from (a button down at start reports nothing until let go).
 * -1 with one line in `err` when a line cannot be read. */
int gpio_input_prepare(gpio_input *in, struct gpiod_line *const buttons[BUTTON_COUNT],
                       const gpio_config *cfg, char *err, size_t err_len);

/* Starts the thread, which takes no signals; -1 with one line in `err`. */
int gpio_input_start(gpio_input *in, input_sink *sink, char *err, size_t err_len);
void gpio_input_stop(gpio_input *in);

/* The debounced state, the one the events report. Any thread. */
void gpio_input_pressed(gpio_input *in, bool pressed[BUTTON_COUNT]);

/* An edge's kernel timestamp on our monotonic clock. Kernels since 5.7 stamp
 * edges with CLOCK_MONOTONIC, older ones with CLOCK_REALTIME: the clock the
 * stamp is nearer to is taken as its clock. A result in the future, or more
 * than 5 s in the past, is not trusted and becomes `mono_now_ns`. */
int64_t gpio_input_edge_time_ns(int64_t event_ns, int64_t mono_now_ns, int64_t real_now_ns);

#endif
