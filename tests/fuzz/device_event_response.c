/* DeviceEventResponse, as the device's EventStream reads it: the input is
 * one message's bytes, the server's answer to the first of two queued
 * presses on the device's real event stream (device/net/event_stream.c).
 * An answer that parses acks that first press, with its value, once, and
 * lets the second press out; one that does not fails the call (the server
 * broke the protocol), acks nothing and sends nothing more. */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "comms.pb-c.h"
#include "fake_client_call.h"
#include "fuzz_check.h"
#include "net/event_stream.h"
#include "pb_buffer.h"

static struct {
  int sent, acks, failures;
  int sent_button[2];
  int acked_button, acked_event;
  bool ack;
  int64_t acked_at;
} seen;

static void on_send(client_call *cc, grpc_byte_buffer *message) {
  (void)cc;
  Com__Opalcamera__Test__DeviceEvent *ev = (Com__Opalcamera__Test__DeviceEvent *)pb_buffer_unpack(
      &com__opalcamera__test__device_event__descriptor, message);
  FUZZ_CHECK(ev && ev->event_case == COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT);
  FUZZ_CHECK(seen.sent < 2);
  seen.sent_button[seen.sent++] = (int)ev->button_event->button_id;
  protobuf_c_message_free_unpacked(&ev->base, NULL);
}

static void on_acked(void *ctx, int button, int event, bool ack, int64_t sent_ns) {
  (void)ctx;
  seen.acks++;
  seen.acked_button = button;
  seen.acked_event = event;
  seen.ack = ack;
  seen.acked_at = sent_ns;
}

static void on_failed(void *ctx, const char *why) {
  (void)ctx;
  FUZZ_CHECK(why && why[0]);
  seen.failures++;
}

static const conn_handler handler = {.acked = on_acked};
static const client_call_holder holder = {.failed = on_failed};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fake_client_watch_sends(on_send);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(&seen, 0, sizeof seen);
  client_call_setup setup = {.holder = &holder};
  event_stream es;
  event_stream_start(&es, &setup, &handler, NULL);
  FUZZ_CHECK(event_stream_send(&es, BUTTON_MODE, EVENT_PRESS, 10));
  FUZZ_CHECK(event_stream_send(&es, BUTTON_PLAY, EVENT_PRESS, 20));
  FUZZ_CHECK(seen.sent == 1 && seen.sent_button[0] == BUTTON_MODE);
  FUZZ_CHECK(fake_client_complete_send(&es.call, true));

  FUZZ_CHECK(fake_client_deliver(&es.call, data, size));
  Com__Opalcamera__Test__DeviceEventResponse *r =
      com__opalcamera__test__device_event_response__unpack(NULL, size, data);
  if (r) {
    FUZZ_CHECK(seen.acks == 1 && seen.failures == 0 && seen.ack == (bool)r->ack);
    FUZZ_CHECK(seen.acked_button == BUTTON_MODE && seen.acked_event == EVENT_PRESS);
    FUZZ_CHECK(seen.acked_at == 10);
    FUZZ_CHECK(seen.sent == 2 && seen.sent_button[1] == BUTTON_PLAY);
    com__opalcamera__test__device_event_response__free_unpacked(r, NULL);
  } else {
    FUZZ_CHECK(seen.acks == 0 && seen.failures == 1 && seen.sent == 1);
  }
  fake_client_end(&es.call);
  return 0;
}
