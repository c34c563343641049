#include "sounds/pcm_encoder.h"

#include <opus/opus.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECONDS 3600

/* Reads the whole file as mono float samples; the caller frees *pcm. */
static int read_mono(const char *path, float **pcm, size_t *count, int *rate,
                     char *err, size_t err_len) {
  SF_INFO info = {0};
  SNDFILE *file = sf_open(path, SFM_READ, &info);
  if (!file) {
    snprintf(err, err_len, "%s", sf_strerror(NULL));
    return -1;
  }
  if (info.frames <= 0 || info.channels <= 0) {
    snprintf(err, err_len, "no audio frames");
    sf_close(file);
    return -1;
  }
  /* The header decides the allocation: refuse sizes no sound should have. */
  if (info.frames > (sf_count_t)MAX_SECONDS * info.samplerate || info.channels > 64) {
    snprintf(err, err_len, "longer than %d s or more than 64 channels", MAX_SECONDS);
    sf_close(file);
    return -1;
  }
  size_t frames = (size_t)info.frames, channels = (size_t)info.channels;
  float *interleaved = malloc(frames * channels * sizeof *interleaved);
  float *mono = malloc(frames * sizeof *mono);
  sf_count_t got = interleaved && mono
                       ? sf_readf_float(file, interleaved, info.frames)
                       : -1;
  sf_close(file);
  if (got <= 0) {
    snprintf(err, err_len, "%s",
             got < 0 ? "out of memory" : "audio data does not decode");
    free(interleaved);
    free(mono);
    return -1;
  }
  for (size_t i = 0; i < (size_t)got; i++) {
    float sum = 0;
    for (size_t c = 0; c < channels; c++) sum += interleaved[i * channels + c];
    mono[i] = sum / (float)channels;
  }
  free(interleaved);
  *pcm = mono;
  *count = (size_t)got;
  *rate = info.samplerate;
  return 0;
}

/* Resamples to 48 kHz; the caller frees *out. */
static int resample_to_48k(const float *in, size_t count, int rate, float **out,
                           size_t *out_count, char *err, size_t err_len) {
  double ratio = (double)WIRE_SAMPLE_RATE / rate;
  size_t cap = (size_t)((double)count * ratio) + 16;
  float *buf = malloc(cap * sizeof *buf);
  if (!buf) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  SRC_DATA job = {
      .data_in = in,
      .data_out = buf,
      .input_frames = (long)count,
      .output_frames = (long)cap,
      .src_ratio = ratio,
  };
  int rc = src_simple(&job, SRC_SINC_MEDIUM_QUALITY, 1);
  if (rc != 0) {
    snprintf(err, err_len, "resampling failed: %s", src_strerror(rc));
    free(buf);
    return -1;
  }
  *out = buf;
  *out_count = (size_t)job.output_frames_gen;
  return 0;
}

int pcm_encode_48k(const float *pcm, size_t count, sound *out, char *err,
                   size_t err_len) {
  int rc;
  OpusEncoder *enc = opus_encoder_create(WIRE_SAMPLE_RATE, 1, OPUS_APPLICATION_AUDIO, &rc);
  if (!enc) {
    snprintf(err, err_len, "cannot create an Opus encoder: %s", opus_strerror(rc));
    return -1;
  }
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(PCM_ENCODER_BITRATE));
  float frame[PCM_ENCODER_FRAME_SAMPLES];
  unsigned char packet[1275]; /* Opus's largest packet */
  int result = 0;
  for (size_t at = 0; at < count && result == 0; at += PCM_ENCODER_FRAME_SAMPLES) {
    size_t n = count - at < PCM_ENCODER_FRAME_SAMPLES ? count - at
                                                      : PCM_ENCODER_FRAME_SAMPLES;
    memcpy(frame, pcm + at, n * sizeof *frame);
    memset(frame + n, 0, (PCM_ENCODER_FRAME_SAMPLES - n) * sizeof *frame);
    opus_int32 size = opus_encode_float(enc, frame, PCM_ENCODER_FRAME_SAMPLES,
                                        packet, sizeof packet);
    if (size < 0) {
      snprintf(err, err_len, "Opus encoding failed: %s", opus_strerror(size));
      result = -1;
    } else if (sound_append(out, packet, (size_t)size, PCM_ENCODER_FRAME_SAMPLES)) {
      snprintf(err, err_len, "out of memory");
      result = -1;
    }
  }
  opus_encoder_destroy(enc);
  return result;
}

int pcm_file_encode(const char *path, sound *out, char *err, size_t err_len) {
  float *pcm = NULL, *resampled = NULL;
  size_t count = 0;
  int rate = 0;
  if (read_mono(path, &pcm, &count, &rate, err, err_len) != 0) return -1;
  int rc = 0;
  if (rate != WIRE_SAMPLE_RATE) {
    size_t n = 0;
    rc = resample_to_48k(pcm, count, rate, &resampled, &n, err, err_len);
    free(pcm);
    pcm = resampled;
    count = n;
  }
  if (rc == 0) rc = pcm_encode_48k(pcm, count, out, err, err_len);
  free(pcm);
  return rc;
}
