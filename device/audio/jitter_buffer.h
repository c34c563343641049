/* A PCM jitter buffer (int16, mono, 48 kHz) between one writer, the device
 * loop thread that decodes Opus packets, and one reader, the output thread
 * (PortAudio's callback, or the pacing thread of the null and WAV outputs).
 *
 * Lock-free single-producer single-consumer ring: positions only grow, the
 * writer alone moves `w`, the reader alone moves `r`, and sound boundaries
 * travel from writer to reader in one atomic control word. Neither side
 * ever waits for the other, so the reader is safe in an audio callback.
 *
 * A sound's life, as the reader sees it:
 *   begin    -> priming: silence until `prime` samples are buffered (or the
 *               sound has ended with fewer: short sounds still play);
 *   started  -> samples flow; the first one sets first_sample_ns;
 *   underrun -> started, not ended, and the reader wants more than there is:
 *               what there is plays, the rest is silence, one underrun is
 *               counted and the sound primes again (a cushion of `prime`
 *               samples is rebuilt instead of stuttering packet by packet);
 *   end      -> what is buffered drains, then the buffer is idle: silence,
 *               no underruns.
 * A new begin drops whatever is left of the previous sound.
 *
 * Full buffer: the writer never blocks. Samples that do not fit are dropped
 * (the tail of the write) and counted in `dropped`; the capacity is several
 * seconds, far more than the server's lead, so this only happens when the
 * output has stalled. Writes after end (before the next begin) are ignored. */
#ifndef OPAL_JITTER_BUFFER_H
#define OPAL_JITTER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jitter_buffer jitter_buffer;

/* Room for at least `capacity` samples (rounded up to a power of two);
 * playback of a sound starts once `prime` samples are buffered (clamped to
 * the capacity). NULL when out of memory. */
jitter_buffer *jb_create(size_t capacity, size_t prime);
void jb_destroy(jitter_buffer *jb);

size_t jb_capacity(const jitter_buffer *jb);

/* Writer side (one thread). */
void jb_begin(jitter_buffer *jb);
/* Returns how many of the `n` samples were taken; the rest were dropped. */
size_t jb_write(jitter_buffer *jb, const int16_t *pcm, size_t n);
void jb_end(jitter_buffer *jb);

/* Reader side (one thread). Fills all `n` samples of `out`, with silence
 * where there is no audio; `now_ns` is stored as first_sample_ns when the
 * first sample of a sound is handed out, and `now_ns` plus the audio of the
 * read as silent_ns when a sound has drained. */
typedef struct jb_read_result {
  size_t audio; /* samples of the sound copied to out */
  size_t live;  /* leading samples of out that are part of a sound's playback:
                   its audio plus silence after an underrun; the rest of out is
                   idle or priming silence (a WAV writer records only these) */
} jb_read_result;
jb_read_result jb_read(jitter_buffer *jb, int16_t *out, size_t n, int64_t now_ns);

/* Any thread. */
typedef struct jb_stats {
  bool playing;            /* begun and not yet drained */
  bool started;            /* the current sound has handed out samples */
  size_t buffered;         /* samples of the current sound waiting */
  unsigned underruns;      /* in total */
  int64_t first_sample_ns; /* of the current sound; 0 until then */
  int64_t silent_ns;       /* when the current sound's last sample has played
                              (its read's now_ns + that read's audio), once it
                              has drained; else 0 */
  uint64_t samples_played; /* in total, audio only */
  uint64_t dropped;        /* in total: samples that did not fit */
} jb_stats;
void jb_get_stats(jitter_buffer *jb, jb_stats *out);

#endif
