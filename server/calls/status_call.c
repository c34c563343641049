#include "calls/status_call.h"

#include <string.h>

#include "comms.pb-c.h"
#include "devices/led_pattern.h"
#include "log.h"
#include "pb_buffer.h"
#include "sounds/sound_library.h"

_Static_assert(SOUND_LIBRARY_MAX_MODES <= LED_PATTERN_MAX_MODES,
               "every mode the server can load needs an LED pattern of its own");

static void send_get(rpc_call *c) {
  Com__Opalcamera__Test__DeviceStatusRequest req =
      COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__INIT;
  req.request_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET;
  req.get = 1;
  rpc_call_send(c, pb_buffer_pack(&req.base));
}

/* Every SET carries all of led_1..led_5: the exercise client blanks any LED
 * a SET leaves out. led_0 is the device's own. */
static void send_set(rpc_call *c, const device *d) {
  uint32_t leds[LED_PATTERN_COUNT];
  led_pattern(d->state.mode, d->state.playing, leds);
  Com__Opalcamera__Test__RGBAColor colours[LED_PATTERN_COUNT];
  for (int i = 0; i < LED_PATTERN_COUNT; i++) {
    com__opalcamera__test__rgbacolor__init(&colours[i]);
    colours[i].rgba = leds[i];
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
  rpc_call_send(c, pb_buffer_pack(&req.base));
}

/* Sends the next owed request. A SET reads the state when it goes out, so
 * changes made while a send was in flight collapse into one SET. */
static void pump(rpc_call *c) {
  if (!c->device || !rpc_call_can_send(c)) return;
  if (c->get_owed) {
    c->get_owed = false;
    send_get(c);
  } else if (c->set_owed) {
    c->set_owed = false;
    send_set(c, c->device);
  }
}

void status_call_open(rpc_call *c) {
  c->get_owed = true;
  c->set_owed = true;
  pump(c);
  rpc_call_receive(c);
}

void status_call_leds_changed(device *d) {
  rpc_call *c = d->calls[CALL_STATUS];
  if (!c) return;
  c->set_owed = true;
  pump(c);
}

static void log_response(const rpc_call *c,
                         const Com__Opalcamera__Test__DeviceStatusResponse *r) {
  const char *id = c->device ? c->device->id : "?";
  switch (r->response_case) {
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATE:
    log_debug("status device=%s reported state battery=%.2f", id,
              (double)r->state->battery_level);
    break;
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATUS:
    if (strcmp(r->status, "success") != 0)
      log_warn("status device=%s answered a request with: %s", id, r->status);
    break;
  default:
    log_warn("status device=%s sent an empty DeviceStatusResponse", id);
  }
}

static void received(rpc_call *c, grpc_byte_buffer *message) {
  ProtobufCMessage *msg =
      pb_buffer_unpack(&com__opalcamera__test__device_status_response__descriptor, message);
  if (!msg) {
    log_warn("status device=%s sent a malformed DeviceStatusResponse",
             c->device ? c->device->id : "?");
    rpc_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
                    "malformed DeviceStatusResponse message");
    return;
  }
  log_response(c, (const Com__Opalcamera__Test__DeviceStatusResponse *)msg);
  protobuf_c_message_free_unpacked(msg, NULL);
  rpc_call_receive(c);
}

static void sent(rpc_call *c, bool ok) {
  if (ok) pump(c);
}

const rpc_call_behaviour status_call_behaviour = {
    .received = received, .sent = sent};
