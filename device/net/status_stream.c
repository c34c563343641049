#include "net/status_stream.h"

#include "comms.pb-c.h"
#include "pb_buffer.h"

static grpc_byte_buffer *reply_text(const char *text) {
  Com__Opalcamera__Test__DeviceStatusResponse r = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__INIT;
  r.response_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATUS;
  r.status = (char *)text;
  return pb_buffer_pack(&r.base);
}

static grpc_byte_buffer *reply_state(const status_stream *st) {
  uint32_t leds[LED_COUNT] = {0};
  bool pressed[BUTTON_COUNT] = {0};
  if (st->device->status_wanted) st->device->status_wanted(st->device_ctx, leds, pressed);
  Com__Opalcamera__Test__RGBAColor colour[LED_COUNT];
  for (int i = 0; i < LED_COUNT; i++) {
    com__opalcamera__test__rgbacolor__init(&colour[i]);
    colour[i].rgba = leds[i];
  }
  Com__Opalcamera__Test__DeviceStatus state = COM__OPALCAMERA__TEST__DEVICE_STATUS__INIT;
  Com__Opalcamera__Test__RGBAColor **led_fields[LED_COUNT] = {
      &state.led_0, &state.led_1, &state.led_2, &state.led_3, &state.led_4, &state.led_5};
  for (int i = 0; i < LED_COUNT; i++) *led_fields[i] = &colour[i];
  Com__Opalcamera__Test__DeviceStatus__ButtonStatus *buttons[BUTTON_COUNT] = {
      &state.button_1, &state.button_2, &state.button_3, &state.button_4};
  for (int i = 0; i < BUTTON_COUNT; i++)
    *buttons[i] = pressed[i] ? COM__OPALCAMERA__TEST__DEVICE_STATUS__BUTTON_STATUS__PRESSED
                             : COM__OPALCAMERA__TEST__DEVICE_STATUS__BUTTON_STATUS__RELEASED;
  /* No battery sensor: battery_level stays 0, proto3's "not reported". */
  Com__Opalcamera__Test__DeviceStatusResponse r = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__INIT;
  r.response_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATE;
  r.state = &state;
  return pb_buffer_pack(&r.base);
}

static grpc_byte_buffer *apply_set(const status_stream *st,
                                   const Com__Opalcamera__Test__DeviceStatusSet *set) {
  /* As the contract says: every LED a SET leaves out goes dark. */
  const Com__Opalcamera__Test__RGBAColor *given[LED_COUNT] = {
      NULL, set->led_1, set->led_2, set->led_3, set->led_4, set->led_5};
  uint32_t leds[LED_COUNT] = {0};
  for (int i = 1; i < LED_COUNT; i++) leds[i] = given[i] ? given[i]->rgba : 0;
  if (st->device->leds_set) st->device->leds_set(st->device_ctx, leds);
  return reply_text("success");
}

static grpc_byte_buffer *answer(const status_stream *st, grpc_byte_buffer *message) {
  Com__Opalcamera__Test__DeviceStatusRequest *req = (Com__Opalcamera__Test__DeviceStatusRequest *)
      pb_buffer_unpack(&com__opalcamera__test__device_status_request__descriptor, message);
  if (!req) return reply_text("error: malformed DeviceStatusRequest");
  grpc_byte_buffer *reply;
  switch (req->request_case) {
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET:
    reply = reply_state(st);
    break;
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_SET:
    reply = apply_set(st, req->set);
    break;
  default:
    reply = reply_text("error: DeviceStatusRequest has neither get nor set");
  }
  protobuf_c_message_free_unpacked(&req->base, NULL);
  return reply;
}

static void received(client_call *cc, grpc_byte_buffer *request) {
  if (!request) return; /* the stream is over; its status follows */
  client_call_send(cc, answer(container_of(cc, status_stream, call), request));
}

/* One request at a time: the next is read once this answer is out. */
static void sent(client_call *cc, bool ok) {
  if (ok) client_call_receive(cc);
}

static const client_call_behaviour status_behaviour = {.received = received, .sent = sent};

void status_stream_start(status_stream *st, const client_call_setup *setup,
                         const conn_handler *device, void *device_ctx) {
  st->device = device;
  st->device_ctx = device_ctx;
  client_call_start(&st->call, setup, METHOD_STATUS, &status_behaviour, NULL);
  client_call_receive(&st->call);
}
