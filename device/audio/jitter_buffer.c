/* Lock-free SPSC PCM ring; see jitter_buffer.h for the behaviour.
 *
 * Positions `w` and `r` count samples since creation and never wrap (47
 * bits at 48 kHz last 90 years); the ring index is `pos & mask`. The
 * writer owns w and the slots [w, r + capacity); the reader owns r and the
 * slots [r, w). Sound boundaries go from writer to reader in `ctl`:
 *
 *   bit 63      ended: the writer has called jb_end for this sound
 *   bits 47-62  generation: bumped by every jb_begin
 *   bits 0-46   position of the sound's first sample (w at jb_begin)
 *
 * The reader takes a consistent snapshot of (ctl, w) by loading ctl, w, ctl
 * again and retrying if ctl changed: the writer stores ctl before writing a
 * new sound's samples and stores w before marking a sound ended, so a
 * snapshot whose two ctl loads agree holds only samples of that sound, and
 * all of them once the sound has ended. */
#include "audio/jitter_buffer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define CTL_ENDED (UINT64_C(1) << 63)
#define CTL_GEN_SHIFT 47
#define CTL_GEN_MASK UINT64_C(0xffff)
#define CTL_POS_MASK ((UINT64_C(1) << CTL_GEN_SHIFT) - 1)
#define FIRST_BUSY UINT32_C(0x10000) /* first_gen while first_ns is being set */

typedef enum { R_IDLE, R_PRIMING, R_RUNNING } reader_state;

struct jitter_buffer {
  int16_t *ring;
  size_t capacity; /* a power of two */
  size_t mask;
  size_t prime;

  _Alignas(64) _Atomic uint64_t w;
  _Atomic uint64_t ctl;
  _Atomic uint64_t dropped;
  /* writer-private */
  uint32_t wgen;
  bool wopen; /* begun and not ended: jb_write takes samples */

  _Alignas(64) _Atomic uint64_t r;
  _Atomic uint32_t drained_gen; /* last sound the reader saw to its end */
  _Atomic uint32_t first_gen;   /* sound whose first sample time is first_ns */
  _Atomic int64_t first_ns;
  _Atomic uint32_t silent_gen; /* sound whose end time is silent_ns */
  _Atomic int64_t silent_ns;
  _Atomic unsigned underruns;
  _Atomic uint64_t played;
  /* reader-private */
  uint32_t rgen;
  reader_state rstate;
};

static uint32_t ctl_gen(uint64_t c) { return (uint32_t)((c >> CTL_GEN_SHIFT) & CTL_GEN_MASK); }
static uint64_t ctl_pos(uint64_t c) { return c & CTL_POS_MASK; }
static bool ctl_ended(uint64_t c) { return (c & CTL_ENDED) != 0; }

jitter_buffer *jb_create(size_t capacity, size_t prime) {
  size_t cap = 1024;
  while (cap < capacity) cap <<= 1;
  jitter_buffer *jb = calloc(1, sizeof *jb);
  if (!jb) return NULL;
  jb->ring = calloc(cap, sizeof *jb->ring);
  if (!jb->ring) {
    free(jb);
    return NULL;
  }
  jb->capacity = cap;
  jb->mask = cap - 1;
  jb->prime = prime < cap ? prime : cap;
  atomic_init(&jb->w, 0);
  atomic_init(&jb->ctl, 0);
  atomic_init(&jb->dropped, 0);
  atomic_init(&jb->r, 0);
  atomic_init(&jb->drained_gen, 0);
  atomic_init(&jb->first_gen, FIRST_BUSY);
  atomic_init(&jb->first_ns, 0);
  atomic_init(&jb->silent_gen, FIRST_BUSY);
  atomic_init(&jb->silent_ns, 0);
  atomic_init(&jb->underruns, 0);
  atomic_init(&jb->played, 0);
  jb->rstate = R_IDLE;
  return jb;
}

void jb_destroy(jitter_buffer *jb) {
  if (!jb) return;
  free(jb->ring);
  free(jb);
}

size_t jb_capacity(const jitter_buffer *jb) { return jb->capacity; }

/* ---- writer ---- */

void jb_begin(jitter_buffer *jb) {
  uint64_t w = atomic_load_explicit(&jb->w, memory_order_relaxed);
  jb->wgen = (jb->wgen + 1) & CTL_GEN_MASK;
  jb->wopen = true;
  atomic_store_explicit(&jb->ctl, ((uint64_t)jb->wgen << CTL_GEN_SHIFT) | (w & CTL_POS_MASK),
                        memory_order_release);
}

size_t jb_write(jitter_buffer *jb, const int16_t *pcm, size_t n) {
  if (!jb->wopen || n == 0) return 0;
  uint64_t w = atomic_load_explicit(&jb->w, memory_order_relaxed);
  uint64_t r = atomic_load_explicit(&jb->r, memory_order_acquire);
  size_t free_slots = jb->capacity - (size_t)(w - r);
  size_t k = n < free_slots ? n : free_slots;
  size_t at = (size_t)(w & jb->mask);
  size_t first = jb->capacity - at < k ? jb->capacity - at : k;
  memcpy(jb->ring + at, pcm, first * sizeof *pcm);
  memcpy(jb->ring, pcm + first, (k - first) * sizeof *pcm);
  atomic_store_explicit(&jb->w, w + k, memory_order_release);
  if (k < n) atomic_fetch_add_explicit(&jb->dropped, n - k, memory_order_relaxed);
  return k;
}

void jb_end(jitter_buffer *jb) {
  if (!jb->wopen) return;
  jb->wopen = false;
  uint64_t c = atomic_load_explicit(&jb->ctl, memory_order_relaxed);
  atomic_store_explicit(&jb->ctl, c | CTL_ENDED, memory_order_release);
}

/* ---- reader ---- */

static bool snapshot(jitter_buffer *jb, uint64_t *ctl, uint64_t *w) {
  for (int tries = 0; tries < 8; tries++) {
    uint64_t c1 = atomic_load_explicit(&jb->ctl, memory_order_acquire);
    uint64_t wv = atomic_load_explicit(&jb->w, memory_order_acquire);
    uint64_t c2 = atomic_load_explicit(&jb->ctl, memory_order_acquire);
    if (c1 == c2) {
      *ctl = c1;
      *w = wv;
      return true;
    }
  }
  return false; /* the writer keeps changing sounds: try again next time */
}

static void set_first(jitter_buffer *jb, uint32_t gen, int64_t now_ns) {
  atomic_store(&jb->first_gen, FIRST_BUSY);
  atomic_store(&jb->first_ns, now_ns);
  atomic_store(&jb->first_gen, gen);
}

/* The sound has played out; its last audio ends at `silent_ns`. */
static void drained(jitter_buffer *jb, int64_t silent_ns) {
  jb->rstate = R_IDLE;
  atomic_store(&jb->silent_gen, FIRST_BUSY);
  atomic_store(&jb->silent_ns, silent_ns);
  atomic_store(&jb->silent_gen, jb->rgen);
  atomic_store_explicit(&jb->drained_gen, jb->rgen, memory_order_release);
}

static int64_t samples_ns(size_t samples) {
  return (int64_t)((uint64_t)samples * UINT64_C(1000000000) / WIRE_SAMPLE_RATE);
}

jb_read_result jb_read(jitter_buffer *jb, int16_t *out, size_t n, int64_t now_ns) {
  jb_read_result res = {0, 0};
  uint64_t c, w;
  if (n == 0) return res;
  if (!snapshot(jb, &c, &w)) {
    memset(out, 0, n * sizeof *out);
    return res;
  }
  uint64_t r = atomic_load_explicit(&jb->r, memory_order_relaxed);
  uint32_t gen = ctl_gen(c);
  bool ended = ctl_ended(c);
  if (gen != jb->rgen) { /* a new sound: skip what is left of the old one */
    jb->rgen = gen;
    jb->rstate = R_PRIMING;
    if (ctl_pos(c) > r) r = ctl_pos(c);
    atomic_store_explicit(&jb->r, r, memory_order_release);
  }
  size_t avail = w > r ? (size_t)(w - r) : 0;
  if (jb->rstate == R_PRIMING) {
    if (avail >= jb->prime || (ended && avail > 0)) {
      jb->rstate = R_RUNNING;
    } else if (ended) {
      drained(jb, now_ns); /* an empty sound */
    }
  }
  if (jb->rstate != R_RUNNING) {
    memset(out, 0, n * sizeof *out);
    return res;
  }

  size_t k = avail < n ? avail : n;
  size_t at = (size_t)(r & jb->mask);
  size_t first = jb->capacity - at < k ? jb->capacity - at : k;
  memcpy(out, jb->ring + at, first * sizeof *out);
  memcpy(out + first, jb->ring, (k - first) * sizeof *out);
  atomic_store_explicit(&jb->r, r + k, memory_order_release);
  atomic_fetch_add_explicit(&jb->played, k, memory_order_relaxed);
  if (k > 0 && atomic_load_explicit(&jb->first_gen, memory_order_relaxed) != gen)
    set_first(jb, gen, now_ns);
  res.audio = k;
  res.live = n;
  if (k < n) {
    memset(out + k, 0, (n - k) * sizeof *out);
    if (ended) {
      res.live = k;
      drained(jb, now_ns + samples_ns(k));
    } else {
      atomic_fetch_add_explicit(&jb->underruns, 1, memory_order_relaxed);
      jb->rstate = R_PRIMING; /* rebuild the cushion before going on */
    }
  } else if (ended && r + k == w) {
    drained(jb, now_ns + samples_ns(k));
  }
  return res;
}

/* ---- any thread ---- */

void jb_get_stats(jitter_buffer *jb, jb_stats *out) {
  uint64_t c = atomic_load(&jb->ctl);
  uint32_t gen = ctl_gen(c);
  uint64_t w = atomic_load(&jb->w);
  uint64_t r = atomic_load(&jb->r);
  uint64_t start = ctl_pos(c);
  uint64_t from = r > start ? r : start;

  memset(out, 0, sizeof *out);
  out->playing = atomic_load(&jb->drained_gen) != gen;
  out->buffered = out->playing && w > from ? (size_t)(w - from) : 0;
  uint32_t g1 = atomic_load(&jb->first_gen);
  int64_t ns = atomic_load(&jb->first_ns);
  uint32_t g2 = atomic_load(&jb->first_gen);
  if (g1 == gen && g2 == gen) {
    out->started = true;
    out->first_sample_ns = ns;
  }
  g1 = atomic_load(&jb->silent_gen);
  ns = atomic_load(&jb->silent_ns);
  g2 = atomic_load(&jb->silent_gen);
  if (!out->playing && g1 == gen && g2 == gen) out->silent_ns = ns;
  out->underruns = atomic_load(&jb->underruns);
  out->samples_played = atomic_load(&jb->played);
  out->dropped = atomic_load(&jb->dropped);
}
