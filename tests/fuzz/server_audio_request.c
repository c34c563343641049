/* AudioStreamRequest, the one message a ServerAudioStream call brings: the
 * input is its bytes, checked by the server's audio_call_check_request
 * (server/calls/audio_call.c) as admission does. The call is admitted
 * exactly when the bytes parse and say start=true; a refusal always says
 * why. An admitted call then carries AudioPackets that parse back to what
 * was sent. */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "calls/audio_call.h"
#include "comms.pb-c.h"
#include "fake_rpc_call.h"
#include "fuzz_buffer.h"
#include "fuzz_check.h"
#include "pb_buffer.h"

static const uint8_t *expected_data;
static size_t expected_len;
static int packets;

static void on_send(rpc_call *c, grpc_byte_buffer *message) {
  (void)c;
  Com__Opalcamera__Test__AudioPacket *p = (Com__Opalcamera__Test__AudioPacket *)pb_buffer_unpack(
      &com__opalcamera__test__audio_packet__descriptor, message);
  FUZZ_CHECK(p != NULL);
  FUZZ_CHECK(p->is_start && p->is_end);
  FUZZ_CHECK(p->data.len == expected_len);
  FUZZ_CHECK(expected_len == 0 || memcmp(p->data.data, expected_data, expected_len) == 0);
  packets++;
  protobuf_c_message_free_unpacked(&p->base, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fake_rpc_watch_sends(on_send);
  grpc_status_code code;
  FUZZ_CHECK(audio_call_check_request(NULL, &code) != NULL && code == GRPC_STATUS_INTERNAL);
  return 0;
}

static bool wants_start(const uint8_t *data, size_t size) {
  Com__Opalcamera__Test__AudioStreamRequest *req =
      com__opalcamera__test__audio_stream_request__unpack(NULL, size, data);
  if (!req) return false;
  bool start = req->start;
  com__opalcamera__test__audio_stream_request__free_unpacked(req, NULL);
  return start;
}

/* An admitted call sends the request's own bytes back as one packet: what
 * the device gets is what was sent, whatever the bytes. */
static void stream_one(const uint8_t *data, size_t size) {
  rpc_call_list live = {0};
  audio_call *c = audio_call_start(&live, NULL, 20, false);
  audio_call_open(c, NULL);
  FUZZ_CHECK(audio_call_can_send(c));
  expected_data = data;
  expected_len = size;
  packets = 0;
  audio_call_send_packet(c, data, size, true, true);
  FUZZ_CHECK(packets == 1 && !audio_call_can_send(c));
  FUZZ_CHECK(fake_rpc_complete_send(audio_call_rpc(c), true));
  fake_rpc_close_all(&live);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  grpc_byte_buffer *request = fuzz_buffer(data, size);
  grpc_status_code code = GRPC_STATUS_OK;
  const char *problem = audio_call_check_request(request, &code);
  grpc_byte_buffer_destroy(request);
  FUZZ_CHECK((problem == NULL) == wants_start(data, size));
  if (problem) FUZZ_CHECK(problem[0] != '\0' && code != GRPC_STATUS_OK);
  else stream_one(data, size);
  return 0;
}
