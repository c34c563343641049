/* DeviceStatusResponse, as the server's StatusStream reads it: the input is
 * one message's bytes, the device's answer to the GET a real status call
 * (server/calls/status_call.c) opens with. A message that parses is taken
 * and the call listens on; one that does not ends the call with
 * INVALID_ARGUMENT, never both, never neither. What the server itself sends
 * stays GET then one SET of the LEDs it was given. */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "calls/status_call.h"
#include "comms.pb-c.h"
#include "fake_rpc_call.h"
#include "fuzz_check.h"
#include "log.h"
#include "pb_buffer.h"

static const uint32_t shown[STATUS_CALL_LEDS] = {0x11223344, 0, 0xffffffff, 0x80, 0x1};

static int gets, sets;

static void check_set(const Com__Opalcamera__Test__DeviceStatusSet *set) {
  const Com__Opalcamera__Test__RGBAColor *leds[STATUS_CALL_LEDS] = {
      set->led_1, set->led_2, set->led_3, set->led_4, set->led_5};
  for (int i = 0; i < STATUS_CALL_LEDS; i++) FUZZ_CHECK(leds[i] && leds[i]->rgba == shown[i]);
}

static void on_send(rpc_call *c, grpc_byte_buffer *message) {
  (void)c;
  Com__Opalcamera__Test__DeviceStatusRequest *r = (Com__Opalcamera__Test__DeviceStatusRequest *)
      pb_buffer_unpack(&com__opalcamera__test__device_status_request__descriptor, message);
  FUZZ_CHECK(r != NULL);
  if (r->request_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET) {
    FUZZ_CHECK(sets == 0);
    gets++;
  } else {
    FUZZ_CHECK(r->request_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_SET);
    check_set(r->set);
    sets++;
  }
  protobuf_c_message_free_unpacked(&r->base, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  log_set_level(LOG_ERROR);
  fake_rpc_watch_sends(on_send);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gets = sets = 0;
  rpc_call_list live = {0};
  status_call *c = status_call_start(&live, NULL);
  rpc_call *rc = status_call_rpc(c);
  int owner;
  rpc_call_set_owner(rc, &owner, NULL);
  device_log who = {.limit = NULL, .id = "fuzz-device"}; /* every line written */
  status_call_open(c, &who, shown);
  FUZZ_CHECK(gets == 1 && sets == 0);
  FUZZ_CHECK(fake_rpc_complete_send(rc, true));
  FUZZ_CHECK(sets == 1);

  FUZZ_CHECK(fake_rpc_deliver(rc, data, size));
  ProtobufCMessage *m =
      protobuf_c_message_unpack(&com__opalcamera__test__device_status_response__descriptor, NULL,
                                size, data);
  if (m) {
    FUZZ_CHECK(fake_rpc_status(rc) == -1 && rc->receiving);
    protobuf_c_message_free_unpacked(m, NULL);
  } else {
    FUZZ_CHECK(fake_rpc_status(rc) == GRPC_STATUS_INVALID_ARGUMENT && !rc->receiving);
  }
  fake_rpc_close_all(&live);
  return 0;
}
