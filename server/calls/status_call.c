#include "calls/status_call.h"

#include <stddef.h>
#include <string.h>

#include "comms.pb-c.h"
#include "pb_buffer.h"

struct status_call {
  rpc_call rpc; /* first: rpc_call_start allocates the whole struct */
  const device_log *dev_log; /* the owner's; see status_call_open */
  bool get_owed, set_owed; /* requests not yet sent */
  uint32_t leds[STATUS_CALL_LEDS];
};
_Static_assert(offsetof(status_call, rpc) == 0, "rpc_call frees the call from its rpc member");

static void send_get(status_call *c) {
  Com__Opalcamera__Test__DeviceStatusRequest req =
      COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__INIT;
  req.request_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET;
  req.get = 1;
  rpc_call_send(&c->rpc, pb_buffer_pack(&req.base));
}

/* Every SET carries all of led_1..led_5: the exercise client blanks any LED
 * a SET leaves out. */
static void send_set(status_call *c) {
  Com__Opalcamera__Test__RGBAColor colours[STATUS_CALL_LEDS];
  for (int i = 0; i < STATUS_CALL_LEDS; i++) {
    com__opalcamera__test__rgbacolor__init(&colours[i]);
    colours[i].rgba = c->leds[i];
  }
  Com__Opalcamera__Test__DeviceStatusSet set = COM__OPALCAMERA__TEST__DEVICE_STATUS_SET__INIT;
  set.led_1 = &colours[0];
  set.led_2 = &colours[1];
  set.led_3 = &colours[2];
  set.led_4 = &colours[3];
  set.led_5 = &colours[4];
  Com__Opalcamera__Test__DeviceStatusRequest req =
      COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__INIT;
  req.request_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_SET;
  req.set = &set;
  rpc_call_send(&c->rpc, pb_buffer_pack(&req.base));
}

/* Sends the next owed request. A SET reads the LEDs when it goes out, so
 * changes made while a send was in flight collapse into one SET. */
static void pump(status_call *c) {
  if (!c->rpc.owner || !rpc_call_can_send(&c->rpc)) return;
  if (c->get_owed) {
    c->get_owed = false;
    send_get(c);
  } else if (c->set_owed) {
    c->set_owed = false;
    send_set(c);
  }
}

/* The device the call serves, for the log; NULL once it has none. */
static const device_log *log_of(const status_call *c) { return c->rpc.owner ? c->dev_log : NULL; }

static const char *id_of(const status_call *c) { return c->rpc.owner ? c->dev_log->id : "?"; }

static void log_response(const status_call *c,
                         const Com__Opalcamera__Test__DeviceStatusResponse *r) {
  const char *id = id_of(c);
  switch (r->response_case) {
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATE:
    DEVICE_LOG(log_of(c), LOG_DEBUG, "status device=%s reported state battery=%.2f", id,
               (double)r->state->battery_level);
    break;
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATUS:
    if (strcmp(r->status, "success") != 0)
      DEVICE_LOG(log_of(c), LOG_WARN, "status device=%s answered a request with: %s", id,
                 r->status);
    break;
  default:
    DEVICE_LOG(log_of(c), LOG_WARN, "status device=%s sent an empty DeviceStatusResponse", id);
  }
}

static void received(rpc_call *base, grpc_byte_buffer *message) {
  status_call *c = container_of(base, status_call, rpc);
  ProtobufCMessage *msg =
      pb_buffer_unpack(&com__opalcamera__test__device_status_response__descriptor, message);
  if (!msg) {
    DEVICE_LOG(log_of(c), LOG_WARN, "status device=%s sent a malformed DeviceStatusResponse",
               id_of(c));
    rpc_call_finish(base, GRPC_STATUS_INVALID_ARGUMENT, "malformed DeviceStatusResponse message");
    return;
  }
  log_response(c, (const Com__Opalcamera__Test__DeviceStatusResponse *)msg);
  protobuf_c_message_free_unpacked(msg, NULL);
  rpc_call_receive(base);
}

static void sent(rpc_call *base, bool ok) {
  if (ok) pump(container_of(base, status_call, rpc));
}

static const rpc_call_behaviour behaviour = {.received = received, .sent = sent};

status_call *status_call_start(rpc_call_list *live, grpc_call *call) {
  rpc_call *base = rpc_call_start(live, sizeof(status_call), METHOD_STATUS, &behaviour, call);
  return container_of(base, status_call, rpc);
}

rpc_call *status_call_rpc(status_call *c) { return &c->rpc; }

void status_call_open(status_call *c, const device_log *who,
                      const uint32_t leds[STATUS_CALL_LEDS]) {
  c->dev_log = who;
  memcpy(c->leds, leds, sizeof c->leds);
  c->get_owed = true;
  c->set_owed = true;
  pump(c);
  rpc_call_receive(&c->rpc);
}

void status_call_show(status_call *c, const uint32_t leds[STATUS_CALL_LEDS]) {
  memcpy(c->leds, leds, sizeof c->leds);
  c->set_owed = true;
  pump(c);
}
