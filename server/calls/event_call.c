#include "calls/event_call.h"

#include "comms.pb-c.h"
#include "devices/device.h"
#include "log.h"
#include "pb_buffer.h"
#include "server.h"

static void send_ack(rpc_call *c, bool ack) {
  Com__Opalcamera__Test__DeviceEventResponse resp =
      COM__OPALCAMERA__TEST__DEVICE_EVENT_RESPONSE__INIT;
  resp.ack = ack;
  rpc_call_send(c, pb_buffer_pack(&resp.base));
}

static device_outcome apply_event(device *d, const Com__Opalcamera__Test__DeviceEvent *ev) {
  if (ev->event_case != COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT) {
    log_warn("event device=%s kind=%d ack=false (unknown event kind)", d->id,
             (int)ev->event_case);
    return (device_outcome){.ack = false, .note = "unknown event kind"};
  }
  int button = (int)ev->button_event->button_id;
  int type = (int)ev->button_event->event;
  bool can_play = d->calls[CALL_AUDIO] != NULL;
  device_outcome o = device_machine_button(&d->state, button, type,
                                           d->server->config.sounds->mode_count, can_play);
  log_info("event device=%s button=%s(%d) type=%s(%d) ack=%s mode=%u state=%s%s%s",
           d->id, wire_button_label(button), button, wire_event_label(type), type,
           o.ack ? "true" : "false", d->state.mode, d->state.playing ? "playing" : "idle",
           o.note ? " note=" : "", o.note ? o.note : "");
  device_apply(d, o.effects, button == BUTTON_PLAY ? "preempted" : "stop");
  return o;
}

static void received(rpc_call *c, grpc_byte_buffer *message) {
  if (!c->device) {
    /* Calls lose their device only when aborted; never leave one unanswered. */
    rpc_call_finish(c, GRPC_STATUS_INTERNAL, "event call without a device");
    return;
  }
  ProtobufCMessage *msg =
      pb_buffer_unpack(&com__opalcamera__test__device_event__descriptor, message);
  if (!msg) {
    log_warn("event device=%s sent a malformed DeviceEvent", c->device->id);
    rpc_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "malformed DeviceEvent message");
    return;
  }
  device_outcome o = apply_event(c->device, (const Com__Opalcamera__Test__DeviceEvent *)msg);
  protobuf_c_message_free_unpacked(msg, NULL);
  send_ack(c, o.ack);
}

/* The next event is read only once this one's ack is out: acks stay in
 * order and one per event, and a device cannot flood the loop. */
static void sent(rpc_call *c, bool ok) {
  if (ok) rpc_call_receive(c);
}

void event_call_open(rpc_call *c) { rpc_call_receive(c); }

const rpc_call_behaviour event_call_behaviour = {
    .received = received, .sent = sent};
