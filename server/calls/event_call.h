/* EventStream: one button event in, handed to the owner, one ack out, in
 * order. The next event is read only after the ack is sent. */
#ifndef OPAL_EVENT_CALL_H
#define OPAL_EVENT_CALL_H

#include <stdbool.h>

#include "devices/device_log_limit.h"
#include "rpc/rpc_call.h"

typedef struct event_call event_call;

/* The owner acts on one button event (raw ButtonEvent values, unchecked)
 * and says what to ack. */
typedef bool (*event_call_button_fn)(void *owner, int button, int type);

/* A new EventStream call on `live`; it owns itself, as every rpc_call does. */
event_call *event_call_start(rpc_call_list *live, grpc_call *call);

rpc_call *event_call_rpc(event_call *c);

/* Starts reading events once the call has an owner; each button event
 * goes to `on_button`. `who` labels and limits the log lines; it is
 * borrowed from the owner and read only while the owner holds the call. */
void event_call_open(event_call *c, const device_log *who, event_call_button_fn on_button);

#endif
