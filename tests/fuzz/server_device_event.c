/* DeviceEvent, as the server's EventStream reads it: the input is one
 * message's bytes, received by a real event call (server/calls/event_call.c)
 * over the stand-in gRPC layer, with the device state machine behind it.
 * Every message gets exactly one answer: an ack carrying the machine's
 * verdict, or, for bytes that do not parse, the call's end with
 * INVALID_ARGUMENT; and the machine hears exactly the button the bytes say. */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "calls/event_call.h"
#include "comms.pb-c.h"
#include "devices/device_machine.h"
#include "fake_rpc_call.h"
#include "fuzz_check.h"
#include "log.h"
#include "pb_buffer.h"

#define MODES 3u

/* What one input made happen. */
static struct {
  int buttons; /* on_button calls */
  int button, event;
  bool verdict; /* what on_button answered */
  int acks;     /* DeviceEventResponses sent */
  bool ack;
} seen;

static bool on_button(void *owner, int button, int event) {
  device_state *s = owner;
  device_outcome o = device_machine_button(s, button, event, MODES, NULL);
  FUZZ_CHECK(s->mode < MODES);
  FUZZ_CHECK(o.ack == (o.note == NULL));
  seen.buttons++;
  seen.button = button;
  seen.event = event;
  seen.verdict = o.ack;
  return o.ack;
}

static void on_send(rpc_call *c, grpc_byte_buffer *message) {
  (void)c;
  Com__Opalcamera__Test__DeviceEventResponse *r = (Com__Opalcamera__Test__DeviceEventResponse *)
      pb_buffer_unpack(&com__opalcamera__test__device_event_response__descriptor, message);
  FUZZ_CHECK(r != NULL);
  seen.acks++;
  seen.ack = r->ack;
  protobuf_c_message_free_unpacked(&r->base, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  log_set_level(LOG_ERROR);
  fake_rpc_watch_sends(on_send);
  return 0;
}

/* What the answer must be, from an independent parse of the same bytes. */
static void check_answer(const rpc_call *rc, const uint8_t *data, size_t size) {
  Com__Opalcamera__Test__DeviceEvent *ev = com__opalcamera__test__device_event__unpack(NULL, size, data);
  if (!ev) {
    FUZZ_CHECK(seen.acks == 0 && seen.buttons == 0);
    FUZZ_CHECK(fake_rpc_status(rc) == GRPC_STATUS_INVALID_ARGUMENT);
    return;
  }
  FUZZ_CHECK(seen.acks == 1 && fake_rpc_status(rc) == -1);
  if (ev->event_case == COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT) {
    FUZZ_CHECK(seen.buttons == 1);
    FUZZ_CHECK(seen.button == (int)ev->button_event->button_id);
    FUZZ_CHECK(seen.event == (int)ev->button_event->event);
    FUZZ_CHECK(seen.ack == seen.verdict);
  } else {
    FUZZ_CHECK(seen.buttons == 0 && !seen.ack);
  }
  com__opalcamera__test__device_event__free_unpacked(ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(&seen, 0, sizeof seen);
  rpc_call_list live = {0};
  device_state state = {0};
  event_call *c = event_call_start(&live, NULL);
  rpc_call *rc = event_call_rpc(c);
  rpc_call_set_owner(rc, &state, NULL);
  device_log who = {.limit = NULL, .id = "fuzz-device"}; /* every line written */
  event_call_open(c, &who, on_button);
  FUZZ_CHECK(fake_rpc_deliver(rc, data, size));
  check_answer(rc, data, size);
  /* The next event is read only once the ack is out. */
  FUZZ_CHECK(!rc->receiving);
  if (fake_rpc_complete_send(rc, true)) FUZZ_CHECK(rc->receiving);
  fake_rpc_close_all(&live);
  return 0;
}
