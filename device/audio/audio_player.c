/* The device's sound path: Opus packets -> libopus -> jitter buffer ->
 * output (PortAudio, null, WAV).
 *
 * Buffering design
 * ----------------
 * The server paces each stream at real time, about 150 ms ahead of the
 * playhead, over TCP: packets arrive in order and none are lost, but late
 * or in bursts. So the device needs a small jitter buffer, not a timing
 * protocol (snapcast's timestamped chunks and clock sync solve a multi-room
 * problem we do not have). The model is squeezelite's: decode as soon as a
 * packet arrives into a PCM buffer, and let the output start once a start
 * threshold is reached.
 *
 * - Decode at once, on the loop thread (one opus_decode per packet, about
 *   0.1 ms for 20 ms of audio), so the output thread only copies PCM and
 *   never runs a codec. The decoder is reset (OPUS_RESET_STATE) at every
 *   sound start so nothing of the previous sound leaks into the new one.
 * - The buffer (jitter_buffer.c) is a lock-free single-producer single-
 *   consumer ring of int16 samples: the PortAudio callback never waits for
 *   a lock or for the loop thread. Capacity is at least 4 s and 4x the
 *   start threshold, rounded up to a power of two (5.5 s by default): far
 *   more than the server's lead, so it never fills in normal use; if the
 *   output stalls, the writer drops what does not fit (counted as
 *   samples_dropped) rather than block the loop thread.
 * - Start: at is_start the buffer drops what is left of the previous sound
 *   (preemption and Stop cut at once) and primes: the output plays silence
 *   until buffer_ms (default 60 ms, 3 packets) is buffered, then plays. A
 *   sound shorter than that starts when its is_end arrives. 60 ms covers
 *   the usual scheduling and network jitter of a LAN while keeping the
 *   press-to-sound latency low; the server's lead means that the threshold
 *   is normally reached as soon as the first burst arrives.
 * - Underrun: the output wants audio mid-sound and the buffer has less.
 *   What is there plays, the rest is silence, one underrun is counted, and
 *   the sound primes again (squeezelite does the same), so a late stream
 *   gives one gap of buffer_ms and not a stutter every packet.
 * - End: at is_end whatever is buffered drains, then the output plays
 *   silence and counts no underruns (the buffer is idle, not starved).
 * - The PortAudio stream is opened once and runs for the player's whole
 *   life, playing silence when idle. Starting a stream per sound would add
 *   the device's start-up time (tens of ms on ALSA, more through PulseAudio)
 *   to every press, and the start/stop transitions can click. The cost is a
 *   callback every few ms that copies zeros.
 * - null and WAV outputs pull from the same buffer on a thread of their
 *   own, 10 ms every 10 ms on absolute deadlines (clock_nanosleep), so
 *   latency, underruns and stats behave as with a sound card. The WAV file
 *   holds what a sound card would have played while a sound played (idle
 *   and priming silence left out, underrun gaps kept), so a test can
 *   compare it with the sound.
 * - first_sample_ns is taken when the output thread hands the first sample
 *   of a sound to the output (PortAudio's buffer, or the null/WAV sink);
 *   the device's own output latency (logged at open) comes on top. */
#include "audio/audio_player.h"

#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_out_pacer.h"
#include "audio/audio_out_portaudio.h"
#include "audio/jitter_buffer.h"
#include "log.h"

#define MAX_PACKET_SAMPLES 5760 /* 120 ms at 48 kHz, Opus's longest packet */
#define MIN_CAPACITY_MS 4000

struct audio_player {
  audio_out_kind kind;
  unsigned buffer_ms;
  OpusDecoder *decoder;
  jitter_buffer *jb;
  pa_out *pa;
  pacer_out *pacer;
  bool in_sound;            /* loop thread: begun and not ended */
  uint64_t dropped_logged;  /* loop thread: dropped samples already reported */
  int16_t pcm[MAX_PACKET_SAMPLES];
};

audio_player *audio_player_open(const audio_config *config, char *err, size_t err_len) {
  audio_player *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  p->kind = config->kind;
  p->buffer_ms = config->buffer_ms ? config->buffer_ms : AUDIO_DEFAULT_BUFFER_MS;
  int e = OPUS_OK;
  p->decoder = opus_decoder_create(WIRE_SAMPLE_RATE, 1, &e);
  if (!p->decoder) {
    snprintf(err, err_len, "cannot create the Opus decoder: %s", opus_strerror(e));
    goto fail;
  }
  size_t prime = (size_t)p->buffer_ms * (WIRE_SAMPLE_RATE / 1000);
  size_t capacity = (size_t)MIN_CAPACITY_MS * (WIRE_SAMPLE_RATE / 1000);
  if (capacity < 4 * prime) capacity = 4 * prime;
  p->jb = jb_create(capacity, prime);
  if (!p->jb) {
    snprintf(err, err_len, "out of memory");
    goto fail;
  }
  switch (config->kind) {
  case AUDIO_OUT_PORTAUDIO:
    p->pa = pa_out_open(config->device, p->jb, err, err_len);
    if (!p->pa) goto fail;
    break;
  case AUDIO_OUT_NULL:
    p->pacer = pacer_out_open(p->jb, NULL, err, err_len);
    if (!p->pacer) goto fail;
    break;
  case AUDIO_OUT_WAV:
    if (!config->wav_path || !*config->wav_path) {
      snprintf(err, err_len, "the WAV output needs a file name (--audio-out wav:FILE)");
      goto fail;
    }
    p->pacer = pacer_out_open(p->jb, config->wav_path, err, err_len);
    if (!p->pacer) goto fail;
    break;
  default:
    snprintf(err, err_len, "unknown audio output kind %d", (int)config->kind);
    goto fail;
  }
  log_info("audio: start threshold %u ms, buffer capacity %.1f s", p->buffer_ms,
           (double)jb_capacity(p->jb) / WIRE_SAMPLE_RATE);
  return p;

fail:
  audio_player_close(p);
  return NULL;
}

void audio_player_begin(audio_player *p) {
  opus_decoder_ctl(p->decoder, OPUS_RESET_STATE);
  jb_begin(p->jb);
  p->in_sound = true;
}

int audio_player_packet(audio_player *p, const uint8_t *data, size_t len) {
  if (!p->in_sound) {
    /* Audio without its is_start (joined mid-sound): play it as a new sound. */
    log_debug("audio: packet outside a sound, starting one");
    audio_player_begin(p);
  }
  if (len == 0) return 0; /* e.g. an is_end packet without audio: nothing to play */
  if (len > INT32_MAX) return OPUS_BAD_ARG;
  int n = opus_decode(p->decoder, data, (opus_int32)len, p->pcm, MAX_PACKET_SAMPLES, 0);
  if (n < 0) {
    log_warn("audio: skipping a packet of %zu bytes that does not decode: %s", len,
             opus_strerror(n));
    return n;
  }
  size_t taken = jb_write(p->jb, p->pcm, (size_t)n);
  if (taken < (size_t)n) {
    jb_stats s;
    jb_get_stats(p->jb, &s);
    /* One line per second of dropped audio at most. */
    if (s.dropped >= p->dropped_logged + WIRE_SAMPLE_RATE || p->dropped_logged == 0) {
      log_warn("audio: buffer full (output stalled?), %llu samples dropped so far",
               (unsigned long long)s.dropped);
      p->dropped_logged = s.dropped;
    }
  }
  return n;
}

void audio_player_end(audio_player *p) {
  jb_end(p->jb);
  p->in_sound = false;
}

void audio_player_stats(audio_player *p, audio_stats *out) {
  jb_stats s;
  jb_get_stats(p->jb, &s);
  memset(out, 0, sizeof *out);
  out->playing = s.playing;
  out->buffered_ms = (unsigned)(s.buffered * 1000 / WIRE_SAMPLE_RATE);
  out->underruns = s.underruns;
  out->first_sample_ns = s.first_sample_ns;
  out->silent_ns = s.silent_ns;
  out->samples_played = s.samples_played;
  out->samples_dropped = s.dropped;
  out->output_frames = p->pa ? pa_out_frames(p->pa) : p->pacer ? pacer_out_frames(p->pacer) : 0;
}

void audio_player_close(audio_player *p) {
  if (!p) return;
  pa_out_close(p->pa); /* outputs first: they read the buffer */
  pacer_out_close(p->pacer);
  jb_destroy(p->jb);
  if (p->decoder) opus_decoder_destroy(p->decoder);
  free(p);
}

int audio_list_devices(FILE *out) { return pa_out_list_devices(out); }
