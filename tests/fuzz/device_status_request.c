/* DeviceStatusRequest, as the device's StatusStream reads it: the input is
 * one message's bytes, answered by the device's real status stream
 * (device/net/status_stream.c). Every request gets exactly one answer that
 * parses; a SET lights exactly the LEDs it names (the others go dark) and
 * says "success"; a GET reports the device's own LEDs and buttons;
 * anything else is an "error: " text and touches nothing. The stream reads
 * the next request once the answer is out. */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "comms.pb-c.h"
#include "fake_client_call.h"
#include "fuzz_check.h"
#include "log.h"
#include "net/status_stream.h"
#include "pb_buffer.h"

static const uint32_t device_leds[LED_COUNT] = {0xff0000ff, 1, 2, 3, 4, 5};
static const bool device_pressed[BUTTON_COUNT] = {true, false, true, false};

static struct {
  int sets, gets, answers;
  uint32_t leds[LED_COUNT];
  Com__Opalcamera__Test__DeviceStatusResponse *answer;
} seen;

static void on_leds_set(void *ctx, const uint32_t leds[LED_COUNT]) {
  (void)ctx;
  seen.sets++;
  memcpy(seen.leds, leds, sizeof seen.leds);
}

static void on_status_wanted(void *ctx, uint32_t leds[LED_COUNT], bool pressed[BUTTON_COUNT]) {
  (void)ctx;
  seen.gets++;
  memcpy(leds, device_leds, sizeof device_leds);
  memcpy(pressed, device_pressed, sizeof device_pressed);
}

static void on_send(client_call *cc, grpc_byte_buffer *message) {
  (void)cc;
  seen.answers++;
  seen.answer = (Com__Opalcamera__Test__DeviceStatusResponse *)pb_buffer_unpack(
      &com__opalcamera__test__device_status_response__descriptor, message);
  FUZZ_CHECK(seen.answer != NULL);
}

static const conn_handler handler = {.leds_set = on_leds_set, .status_wanted = on_status_wanted};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  log_set_level(LOG_ERROR);
  fake_client_watch_sends(on_send);
  return 0;
}

static bool is_status(const char *prefix) {
  const Com__Opalcamera__Test__DeviceStatusResponse *a = seen.answer;
  return a->response_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATUS &&
         strncmp(a->status, prefix, strlen(prefix)) == 0;
}

static void check_set(const Com__Opalcamera__Test__DeviceStatusSet *set) {
  const Com__Opalcamera__Test__RGBAColor *given[LED_COUNT] = {
      NULL, set->led_1, set->led_2, set->led_3, set->led_4, set->led_5};
  FUZZ_CHECK(seen.sets == 1 && seen.gets == 0 && is_status("success"));
  for (int i = 1; i < LED_COUNT; i++)
    FUZZ_CHECK(seen.leds[i] == (given[i] ? given[i]->rgba : 0));
}

static void check_get(void) {
  const Com__Opalcamera__Test__DeviceStatusResponse *a = seen.answer;
  FUZZ_CHECK(seen.gets == 1 && seen.sets == 0);
  FUZZ_CHECK(a->response_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATE);
  const Com__Opalcamera__Test__RGBAColor *leds[LED_COUNT] = {
      a->state->led_0, a->state->led_1, a->state->led_2,
      a->state->led_3, a->state->led_4, a->state->led_5};
  for (int i = 0; i < LED_COUNT; i++) FUZZ_CHECK(leds[i] && leds[i]->rgba == device_leds[i]);
  FUZZ_CHECK(a->state->button_1 == COM__OPALCAMERA__TEST__DEVICE_STATUS__BUTTON_STATUS__PRESSED);
  FUZZ_CHECK(a->state->button_2 == COM__OPALCAMERA__TEST__DEVICE_STATUS__BUTTON_STATUS__RELEASED);
}

/* What the answer must be, from an independent parse of the same bytes. */
static void check_answer(const uint8_t *data, size_t size) {
  FUZZ_CHECK(seen.answers == 1);
  Com__Opalcamera__Test__DeviceStatusRequest *req =
      com__opalcamera__test__device_status_request__unpack(NULL, size, data);
  if (req && req->request_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_SET)
    check_set(req->set);
  else if (req && req->request_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET)
    check_get();
  else
    FUZZ_CHECK(seen.sets == 0 && seen.gets == 0 && is_status("error: "));
  if (req) com__opalcamera__test__device_status_request__free_unpacked(req, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(&seen, 0, sizeof seen);
  client_call_setup setup = {0};
  status_stream st;
  status_stream_start(&st, &setup, &handler, NULL);
  FUZZ_CHECK(fake_client_deliver(&st.call, data, size));
  check_answer(data, size);
  protobuf_c_message_free_unpacked(&seen.answer->base, NULL);
  FUZZ_CHECK(!st.call.receiving);
  FUZZ_CHECK(fake_client_complete_send(&st.call, true));
  FUZZ_CHECK(st.call.receiving);
  fake_client_end(&st.call);
  return 0;
}
