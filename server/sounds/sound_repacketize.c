#include "sounds/sound_repacketize.h"

#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>

/* Room for the largest packet the repacketizer can make: 120 ms of frames
 * (at most 48), each at most 1275 bytes, and their headers. */
#define MAX_MERGED_BYTES (48 * 1275 + 7 + 48 * 2)

/* Appends what `rp` holds as one packet. */
static int flush(OpusRepacketizer *rp, sound *out, unsigned char *buf, char *err,
                 size_t err_len) {
  int frames = opus_repacketizer_get_nb_frames(rp);
  if (frames == 0) return 0;
  opus_int32 size = opus_repacketizer_out(rp, buf, MAX_MERGED_BYTES);
  int samples = size > 0 ? opus_packet_get_nb_samples(buf, size, WIRE_SAMPLE_RATE) : size;
  if (size <= 0 || samples <= 0) {
    snprintf(err, err_len, "repacketizing %d frames: %s", frames,
             opus_strerror(size <= 0 ? size : samples));
    return -1;
  }
  opus_repacketizer_init(rp);
  if (sound_append(out, buf, (size_t)size, (uint32_t)samples) != 0) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  return 0;
}

/* Samples packet `i` of `s` lasts. */
static uint64_t packet_samples(const sound *s, size_t i) {
  uint64_t end = i + 1 < s->count ? s->packets[i + 1].start_sample : s->total_samples;
  return end - s->packets[i].start_sample;
}

static int merge(const sound *in, uint64_t max_samples, OpusRepacketizer *rp, unsigned char *buf,
                 sound *out, char *err, size_t err_len) {
  uint64_t held = 0; /* samples in rp */
  for (size_t i = 0; i < in->count; i++) {
    uint64_t samples = packet_samples(in, i);
    if (held > 0 && held + samples > max_samples) {
      if (flush(rp, out, buf, err, err_len) != 0) return -1;
      held = 0;
    }
    /* The packets stay in `in` while rp points at them: until the flush. */
    const unsigned char *data = sound_packet_data(in, i);
    opus_int32 size = (opus_int32)in->packets[i].size;
    if (opus_repacketizer_cat(rp, data, size) != OPUS_OK) {
      if (flush(rp, out, buf, err, err_len) != 0) return -1;
      held = 0;
      int rc = opus_repacketizer_cat(rp, data, size);
      if (rc != OPUS_OK) {
        snprintf(err, err_len, "packet %zu: %s", i, opus_strerror(rc));
        return -1;
      }
    }
    held += samples;
  }
  return flush(rp, out, buf, err, err_len);
}

int sound_repacketize(const sound *in, unsigned max_ms, sound *out, char *err, size_t err_len) {
  OpusRepacketizer *rp = opus_repacketizer_create();
  unsigned char *buf = malloc(MAX_MERGED_BYTES);
  int rc = -1;
  if (!rp || !buf) snprintf(err, err_len, "out of memory");
  else rc = merge(in, (uint64_t)max_ms * WIRE_SAMPLE_RATE / 1000, rp, buf, out, err, err_len);
  free(buf);
  opus_repacketizer_destroy(rp);
  return rc;
}

int sound_add_larger_packets(sound *s, unsigned max_ms, char *err, size_t err_len) {
  size_t n = max_ms / SOUND_PACKET_MS_STEP;
  n = n < 2 ? 0 : n - 1;
  if (n == 0) return 0;
  sound *larger = calloc(n, sizeof *larger);
  if (!larger) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  for (size_t k = 0; k < n; k++) {
    unsigned ms = (unsigned)(k + 2) * SOUND_PACKET_MS_STEP;
    if (sound_repacketize(s, ms, &larger[k], err, err_len) != 0) {
      for (size_t j = 0; j <= k; j++) sound_clear(&larger[j]);
      free(larger);
      return -1;
    }
    sound_fit(&larger[k]);
  }
  s->larger = larger;
  s->larger_count = n;
  return 0;
}
