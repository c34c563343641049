/* StatusStream: the server speaks first (GET, then SET), the device answers
 * each request once. Every LED change becomes one SET with all five LEDs;
 * changes made while a send is in flight collapse into one SET. */
#ifndef OPAL_STATUS_CALL_H
#define OPAL_STATUS_CALL_H

#include <stdint.h>

#include "devices/device_log_limit.h"
#include "rpc/rpc_call.h"
#include "wire.h"

/* led_1 .. led_5, as 0xRRGGBBAA: led_0 is the device's own. */
#define STATUS_CALL_LEDS (LED_COUNT - 1)

typedef struct status_call status_call;

/* A new StatusStream call on `live`; it owns itself, as every rpc_call does. */
status_call *status_call_start(rpc_call_list *live, grpc_call *call);

rpc_call *status_call_rpc(status_call *c);

/* Starts talking once the call has an owner: GET, then a SET of `leds`
 * (copied), then listening for answers. `who` labels and limits the log
 * lines; it is borrowed from the owner and read only while the owner
 * holds the call. */
void status_call_open(status_call *c, const device_log *who,
                      const uint32_t leds[STATUS_CALL_LEDS]);

/* The LEDs to show now (copied): a SET of them goes out when the stream is
 * free, with whatever they are by then. */
void status_call_show(status_call *c, const uint32_t leds[STATUS_CALL_LEDS]);

#endif
