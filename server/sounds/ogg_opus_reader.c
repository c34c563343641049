#include "sounds/ogg_opus_reader.h"

#include <errno.h>
#include <ogg/ogg.h>
#include <opus/opus.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Everything needed while walking one file's packets. */
typedef struct reader {
  sound *out;
  OpusDecoder *check; /* decodes every packet once, so a broken file fails here */
  long packet_no;     /* 0 = OpusHead, 1 = OpusTags, then audio */
  bool saw_end;       /* the end-of-stream page: the file is whole */
  char *err;
  size_t err_len;
} reader;

static int fail(reader *r, const char *what) {
  snprintf(r->err, r->err_len, "%s", what);
  return -1;
}

static int take_head(reader *r, const ogg_packet *op) {
  if (op->bytes < 19 || memcmp(op->packet, "OpusHead", 8) != 0)
    return fail(r, "not an Ogg Opus file (no OpusHead)");
  if (op->packet[9] != 1)
    return fail(r, "Opus stream is not mono (re-encode with opusenc --downmix-mono)");
  return 0;
}

static int take_audio(reader *r, const ogg_packet *op, long index) {
  static opus_int16 pcm[5760]; /* 120 ms, Opus's longest packet */
  if (op->bytes <= 0) {
    /* libopus would "decode" it as packet loss; devices must never get it. */
    char what[64];
    snprintf(what, sizeof what, "packet %ld is empty", index);
    return fail(r, what);
  }
  int samples = opus_decode(r->check, op->packet, (opus_int32)op->bytes, pcm,
                            5760, 0);
  if (samples <= 0) {
    char what[96];
    snprintf(what, sizeof what, "packet %ld does not decode (%s)", index,
             opus_strerror(samples));
    return fail(r, what);
  }
  if (sound_append(r->out, op->packet, (size_t)op->bytes, (uint32_t)samples))
    return fail(r, "out of memory");
  return 0;
}

static int take_packet(reader *r, const ogg_packet *op) {
  long n = r->packet_no++;
  if (n == 0) return take_head(r, op);
  if (n == 1) return 0; /* OpusTags: nothing the server needs */
  return take_audio(r, op, n - 2);
}

/* Feeds pages of the first logical stream to `stream`; other streams in a
 * multiplexed file are ignored. */
static int drain_pages(reader *r, ogg_sync_state *sync, ogg_stream_state *stream,
                       bool *have_stream) {
  ogg_page page;
  int got_page;
  while ((got_page = ogg_sync_pageout(sync, &page)) != 0) {
    /* libogg skips damaged bytes; skipping audio would hide a broken file. */
    if (got_page < 0)
      return fail(r, *have_stream ? "corrupt Ogg data (bad page)" : "not an Ogg file");
    if (!*have_stream) {
      ogg_stream_init(stream, ogg_page_serialno(&page));
      *have_stream = true;
    }
    if (ogg_stream_pagein(stream, &page) != 0) continue;
    r->saw_end = ogg_page_eos(&page) != 0;
    ogg_packet op;
    int got;
    while ((got = ogg_stream_packetout(stream, &op)) != 0) {
      if (got < 0) return fail(r, "corrupt Ogg data");
      if (take_packet(r, &op) != 0) return -1;
    }
  }
  return 0;
}

int ogg_opus_read(const char *path, sound *out, char *err, size_t err_len) {
  reader r = {.out = out, .err = err, .err_len = err_len};
  FILE *f = fopen(path, "rb");
  if (!f) return fail(&r, strerror(errno));
  int opus_err;
  r.check = opus_decoder_create(WIRE_SAMPLE_RATE, 1, &opus_err);
  if (!r.check) {
    fclose(f);
    return fail(&r, "cannot create an Opus decoder");
  }

  ogg_sync_state sync;
  ogg_stream_state stream;
  bool have_stream = false;
  ogg_sync_init(&sync);
  int rc = 0;
  for (;;) {
    char *buf = ogg_sync_buffer(&sync, 8192);
    size_t n = fread(buf, 1, 8192, f);
    ogg_sync_wrote(&sync, (long)n);
    if ((rc = drain_pages(&r, &sync, &stream, &have_stream)) != 0 || n == 0) break;
  }
  if (rc == 0 && ferror(f)) rc = fail(&r, strerror(errno));
  if (rc == 0 && r.packet_no == 0) rc = fail(&r, "not an Ogg Opus file");
  if (rc == 0 && !r.saw_end) rc = fail(&r, "truncated (no end-of-stream page)");
  if (rc == 0 && r.packet_no < 3) rc = fail(&r, "no Opus audio packets");

  if (have_stream) ogg_stream_clear(&stream);
  ogg_sync_clear(&sync);
  opus_decoder_destroy(r.check);
  fclose(f);
  return rc;
}
