/* The device: one loop thread that drains the gRPC completion queue, takes
 * input from the hardware back end, feeds audio to the player and keeps
 * the LEDs and the status view current. */
#ifndef OPAL_DEVICE_APP_H
#define OPAL_DEVICE_APP_H

#include <signal.h>
#include <stdbool.h>

#include "audio/audio_player.h"
#include "net/connection.h"
#include "hw/hw.h"
#include "script/report.h"

typedef struct device_app_config {
  conn_config conn;
  bool connect_at_start;
} device_app_config;

/* Runs until quit (a back end's INPUT_QUIT or `*stop` set by a signal).
 * Takes ownership of `hw` (destroyed before returning); borrows the rest.
 * Returns 0, or 1 when the back end could not start (the reason is
 * logged) or judged the run failed (hw_ops.failed: a script's wait-for
 * timed out). */
int device_app_run(const device_app_config *config, hw_backend *hw, audio_player *audio,
                   reporter *rep, volatile sig_atomic_t *stop);

#endif
