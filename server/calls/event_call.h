/* EventStream: one button event in, its effect applied, one ack out, in
 * order. The next event is read only after the ack is sent. */
#ifndef OPAL_EVENT_CALL_H
#define OPAL_EVENT_CALL_H

#include "rpc/rpc_call.h"

extern const rpc_call_behaviour event_call_behaviour;

/* Starts reading events on a freshly attached event call. */
void event_call_open(rpc_call *c);

#endif
