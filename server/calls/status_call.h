/* StatusStream: the server speaks first (GET, then SET), the device answers
 * each request once. Every LED change becomes one SET with all five LEDs. */
#ifndef OPAL_STATUS_CALL_H
#define OPAL_STATUS_CALL_H

#include "devices/device.h"
#include "rpc/rpc_call.h"

extern const rpc_call_behaviour status_call_behaviour;

/* Starts a freshly attached status call: GET, then SET, then listen. */
void status_call_open(rpc_call *c);

/* The device's LED pattern changed: send it when the stream is free. */
void status_call_leds_changed(device *d);

#endif
