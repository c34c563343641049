/* AudioPacket, as the device's ServerAudioStream reads it: the input is one
 * message's bytes, taken by the device's real audio stream
 * (device/net/audio_stream.c) and played as the device app does: is_start
 * begins a sound, the data is decoded by libopus into the jitter buffer of
 * a real audio player (null output), is_end ends it. A packet that parses
 * reaches the player whole and once, one that does not reaches nothing,
 * and the stream reads on either way. */
#include <protobuf-c/protobuf-c.h>
#include <string.h>

#include "audio/audio_player.h"
#include "comms.pb-c.h"
#include "fake_client_call.h"
#include "fuzz_check.h"
#include "log.h"
#include "net/audio_stream.h"

static audio_player *player;

/* The same bytes parsed independently, before the stream sees them; NULL
 * when they do not parse. */
static Com__Opalcamera__Test__AudioPacket *expected;
static int packets;

static void on_audio(void *ctx, const uint8_t *data, size_t len, bool is_start, bool is_end) {
  (void)ctx;
  packets++;
  FUZZ_CHECK(expected != NULL && len == expected->data.len);
  FUZZ_CHECK(len == 0 || memcmp(data, expected->data.data, len) == 0);
  FUZZ_CHECK(is_start == (bool)expected->is_start && is_end == (bool)expected->is_end);
  if (is_start) audio_player_begin(player);
  int samples = audio_player_packet(player, data, len);
  /* Opus packets last at most 120 ms: 5760 samples at 48 kHz. */
  FUZZ_CHECK(samples <= 5760);
  if (is_end) audio_player_end(player);
}

static const conn_handler handler = {.audio = on_audio};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  log_set_level(LOG_ERROR);
  char err[256];
  audio_config config = {.kind = AUDIO_OUT_NULL};
  player = audio_player_open(&config, err, sizeof err);
  if (!player) {
    fprintf(stderr, "device_audio_packet: %s\n", err);
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  packets = 0;
  expected = com__opalcamera__test__audio_packet__unpack(NULL, size, data);
  client_call_setup setup = {0};
  audio_stream as;
  audio_stream_start(&as, &setup, &handler, NULL);
  FUZZ_CHECK(as.call.receiving);
  FUZZ_CHECK(fake_client_deliver(&as.call, data, size));
  FUZZ_CHECK(packets == (expected != NULL));
  FUZZ_CHECK(as.call.receiving);
  fake_client_end(&as.call);
  if (expected) com__opalcamera__test__audio_packet__free_unpacked(expected, NULL);
  return 0;
}
