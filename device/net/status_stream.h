/* StatusStream: the server asks, the device answers. A GET is answered with
 * the device's LEDs and buttons, a SET by lighting the LEDs it names (the
 * others go dark) and "success"; anything else with an "error: ..." text.
 * The next request is read only once the answer is sent. */
#ifndef OPAL_STATUS_STREAM_H
#define OPAL_STATUS_STREAM_H

#include "net/client_call.h"
#include "net/conn_handler.h"

typedef struct status_stream {
  client_call call;
  const conn_handler *device; /* status_wanted, leds_set */
  void *device_ctx;
} status_stream;

/* Starts the call and waits for the server's first request. */
void status_stream_start(status_stream *st, const client_call_setup *setup,
                         const conn_handler *device, void *device_ctx);

#endif
