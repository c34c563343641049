#include "calls/event_call.h"

#include <stddef.h>

#include "comms.pb-c.h"
#include "metrics/metrics.h"
#include "pb_buffer.h"

struct event_call {
  rpc_call rpc; /* first: rpc_call_start allocates the whole struct */
  const device_log *dev_log; /* the owner's; see event_call_open */
  event_call_button_fn on_button;
};
_Static_assert(offsetof(event_call, rpc) == 0, "rpc_call frees the call from its rpc member");

static void send_ack(event_call *c, bool ack) {
  Com__Opalcamera__Test__DeviceEventResponse resp =
      COM__OPALCAMERA__TEST__DEVICE_EVENT_RESPONSE__INIT;
  resp.ack = ack;
  rpc_call_send(&c->rpc, pb_buffer_pack(&resp.base));
}

static bool handle_event(event_call *c, const Com__Opalcamera__Test__DeviceEvent *ev) {
  if (ev->event_case != COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT) {
    DEVICE_LOG(c->dev_log, LOG_WARN, "event device=%s kind=%d ack=false (unknown event kind)",
               c->dev_log->id, (int)ev->event_case);
    return false;
  }
  metrics_event((int)ev->button_event->button_id, (int)ev->button_event->event);
  return c->on_button(c->rpc.owner, (int)ev->button_event->button_id,
                      (int)ev->button_event->event);
}

static void received(rpc_call *base, grpc_byte_buffer *message) {
  event_call *c = container_of(base, event_call, rpc);
  if (!base->owner) {
    /* Calls lose their owner only when aborted; never leave one unanswered. */
    rpc_call_finish(base, GRPC_STATUS_INTERNAL, "event call without a device");
    return;
  }
  ProtobufCMessage *msg =
      pb_buffer_unpack(&com__opalcamera__test__device_event__descriptor, message);
  if (!msg) {
    DEVICE_LOG(c->dev_log, LOG_WARN, "event device=%s sent a malformed DeviceEvent",
               c->dev_log->id);
    rpc_call_finish(base, GRPC_STATUS_INVALID_ARGUMENT, "malformed DeviceEvent message");
    return;
  }
  bool ack = handle_event(c, (const Com__Opalcamera__Test__DeviceEvent *)msg);
  protobuf_c_message_free_unpacked(msg, NULL);
  send_ack(c, ack);
}

/* The next event is read only once this one's ack is out: acks stay in
 * order and one per event, and a device cannot flood the loop. */
static void sent(rpc_call *base, bool ok) {
  if (ok) rpc_call_receive(base);
}

static const rpc_call_behaviour behaviour = {.received = received, .sent = sent};

event_call *event_call_start(rpc_call_list *live, grpc_call *call) {
  rpc_call *base = rpc_call_start(live, sizeof(event_call), METHOD_EVENT, &behaviour, call);
  return container_of(base, event_call, rpc);
}

rpc_call *event_call_rpc(event_call *c) { return &c->rpc; }

void event_call_open(event_call *c, const device_log *who, event_call_button_fn on_button) {
  c->dev_log = who;
  c->on_button = on_button;
  rpc_call_receive(&c->rpc);
}
