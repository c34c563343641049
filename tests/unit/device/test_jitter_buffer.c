/* The device's jitter buffer: priming, drain, underruns, preemption,
 * wraparound, overflow, and a two-thread run checking sample continuity. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audio/jitter_buffer.h"

#define PRIME 480 /* 10 ms */

/* Writes `n` samples counting up from `from`. */
static void write_ramp(jitter_buffer *jb, int from, size_t n) {
  int16_t buf[4096];
  assert_true(n <= 4096);
  for (size_t i = 0; i < n; i++) buf[i] = (int16_t)(from + (int)i);
  assert_int_equal(jb_write(jb, buf, n), n);
}

static void assert_ramp(const int16_t *got, int from, size_t n) {
  for (size_t i = 0; i < n; i++) assert_int_equal(got[i], (int16_t)(from + (int)i));
}

static void assert_silent(const int16_t *got, size_t n) {
  for (size_t i = 0; i < n; i++) assert_int_equal(got[i], 0);
}

static jb_stats stats(jitter_buffer *jb) {
  jb_stats s;
  jb_get_stats(jb, &s);
  return s;
}

static void idle_before_any_sound(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[256];
  memset(out, 0x55, sizeof out);
  jb_read_result r = jb_read(jb, out, 256, 1);
  assert_int_equal(r.audio, 0);
  assert_int_equal(r.live, 0);
  assert_silent(out, 256);
  jb_stats s = stats(jb);
  assert_false(s.playing);
  assert_int_equal(s.underruns, 0);
  assert_int_equal(s.first_sample_ns, 0);
  /* Writes outside a sound are ignored. */
  int16_t one = 7;
  assert_int_equal(jb_write(jb, &one, 1), 0);
  jb_destroy(jb);
}

static void priming_threshold(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[200];
  jb_begin(jb);
  assert_true(stats(jb).playing);
  write_ramp(jb, 1, PRIME - 1);
  memset(out, 0x55, sizeof out);
  jb_read_result r = jb_read(jb, out, 200, 1000);
  assert_int_equal(r.audio, 0); /* one sample short: still priming */
  assert_int_equal(r.live, 0);
  assert_silent(out, 200);
  jb_stats s = stats(jb);
  assert_true(s.playing);
  assert_false(s.started);
  assert_int_equal(s.buffered, PRIME - 1);
  assert_int_equal(s.first_sample_ns, 0);
  assert_int_equal(s.underruns, 0); /* silence while priming is no underrun */

  write_ramp(jb, PRIME, 1);
  r = jb_read(jb, out, 200, 2000);
  assert_int_equal(r.audio, 200);
  assert_int_equal(r.live, 200);
  assert_ramp(out, 1, 200);
  s = stats(jb);
  assert_true(s.started);
  assert_int_equal(s.first_sample_ns, 2000);
  assert_int_equal(s.buffered, PRIME - 200);
  assert_int_equal(s.samples_played, 200);

  /* Once started, it plays below the threshold too. */
  r = jb_read(jb, out, 200, 3000);
  assert_int_equal(r.audio, 200);
  assert_ramp(out, 201, 200);
  assert_int_equal(stats(jb).first_sample_ns, 2000); /* the first one only */
  jb_destroy(jb);
}

static void drain_on_end(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[400];
  jb_begin(jb);
  write_ramp(jb, 1, 1000);
  jb_end(jb);
  assert_true(stats(jb).playing); /* ended, not drained */
  size_t total = 0;
  jb_read_result r;
  for (int i = 0; i < 2; i++) {
    r = jb_read(jb, out, 400, 1);
    assert_int_equal(r.audio, 400);
    assert_int_equal(r.live, 400);
    assert_ramp(out, 1 + (int)total, 400);
    total += r.audio;
  }
  r = jb_read(jb, out, 400, 1);
  assert_int_equal(r.audio, 200);
  assert_int_equal(r.live, 200); /* the silence after the end is not the sound's */
  assert_ramp(out, 801, 200);
  assert_silent(out + 200, 200);
  jb_stats s = stats(jb);
  assert_false(s.playing);
  assert_int_equal(s.buffered, 0);
  assert_int_equal(s.samples_played, 1000);
  assert_int_equal(s.underruns, 0);
  /* After the drain: silence, no underruns. */
  for (int i = 0; i < 5; i++) {
    r = jb_read(jb, out, 400, 1);
    assert_int_equal(r.audio, 0);
    assert_int_equal(r.live, 0);
    assert_silent(out, 400);
  }
  assert_int_equal(stats(jb).underruns, 0);
  jb_destroy(jb);
}

static void drain_exact(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[500];
  jb_begin(jb);
  write_ramp(jb, 1, 500);
  jb_end(jb);
  jb_read_result r = jb_read(jb, out, 500, 1);
  assert_int_equal(r.audio, 500);
  assert_false(stats(jb).playing); /* drained by exactly this read */
  r = jb_read(jb, out, 500, 1);
  assert_int_equal(r.live, 0);
  assert_int_equal(stats(jb).underruns, 0);
  jb_destroy(jb);
}

static void short_sound_plays(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[PRIME];
  jb_begin(jb);
  write_ramp(jb, 10, 100); /* far below the threshold */
  jb_read_result r = jb_read(jb, out, PRIME, 5);
  assert_int_equal(r.audio, 0); /* no end yet: waits */
  jb_end(jb);
  r = jb_read(jb, out, PRIME, 6);
  assert_int_equal(r.audio, 100);
  assert_int_equal(r.live, 100);
  assert_ramp(out, 10, 100);
  assert_silent(out + 100, PRIME - 100);
  jb_stats s = stats(jb);
  assert_false(s.playing);
  assert_int_equal(s.first_sample_ns, 6);
  assert_int_equal(s.underruns, 0);
  jb_destroy(jb);
}

static void empty_sound(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[100];
  jb_begin(jb);
  jb_end(jb);
  assert_true(stats(jb).playing);
  jb_read_result r = jb_read(jb, out, 100, 1);
  assert_int_equal(r.audio, 0);
  assert_int_equal(r.live, 0);
  jb_stats s = stats(jb);
  assert_false(s.playing);
  assert_int_equal(s.underruns, 0);
  assert_int_equal(s.first_sample_ns, 0);
  jb_destroy(jb);
}

static void underrun_only_mid_sound(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[500];
  jb_begin(jb);
  write_ramp(jb, 1, 600);
  assert_int_equal(jb_read(jb, out, 500, 1).audio, 500);
  /* 100 left, 500 wanted, not ended: an underrun. */
  jb_read_result r = jb_read(jb, out, 500, 1);
  assert_int_equal(r.audio, 100);
  assert_int_equal(r.live, 500); /* the gap belongs to the sound */
  assert_ramp(out, 501, 100);
  assert_silent(out + 100, 400);
  assert_int_equal(stats(jb).underruns, 1);
  assert_true(stats(jb).playing);

  /* Starved reads after that prime again: one underrun per gap. */
  for (int i = 0; i < 3; i++) {
    r = jb_read(jb, out, 500, 1);
    assert_int_equal(r.audio, 0);
  }
  assert_int_equal(stats(jb).underruns, 1);

  /* Below the threshold it keeps priming; at it, it goes on where it was. */
  write_ramp(jb, 601, PRIME - 1);
  assert_int_equal(jb_read(jb, out, 500, 1).audio, 0);
  write_ramp(jb, 601 + PRIME - 1, 1);
  r = jb_read(jb, out, 200, 1);
  assert_int_equal(r.audio, 200);
  assert_ramp(out, 601, 200);

  /* The end, then a drain: no more underruns. */
  jb_end(jb);
  r = jb_read(jb, out, 500, 1);
  assert_int_equal(r.audio, PRIME - 200);
  for (int i = 0; i < 3; i++) jb_read(jb, out, 500, 1);
  jb_stats s = stats(jb);
  assert_int_equal(s.underruns, 1);
  assert_false(s.playing);
  assert_int_equal(s.samples_played, 600 + PRIME);
  jb_destroy(jb);
}

static void begin_drops_leftovers(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[600];
  jb_begin(jb);
  write_ramp(jb, 1, 1000);
  assert_int_equal(jb_read(jb, out, 100, 1).audio, 100);
  assert_true(stats(jb).started);

  /* Preempted mid-sound, without an end. */
  jb_begin(jb);
  jb_stats s = stats(jb);
  assert_true(s.playing);
  assert_false(s.started);
  assert_int_equal(s.first_sample_ns, 0);
  assert_int_equal(s.buffered, 0); /* the 900 left over do not count */
  write_ramp(jb, 5000, 300);
  jb_read_result r = jb_read(jb, out, 100, 2);
  assert_int_equal(r.audio, 0); /* priming the new sound, not playing the old */
  write_ramp(jb, 5300, 300);
  r = jb_read(jb, out, 600, 3);
  assert_int_equal(r.audio, 600);
  assert_ramp(out, 5000, 600);
  assert_int_equal(stats(jb).first_sample_ns, 3);

  /* Several begins before the reader looks: only the last sound plays. */
  jb_begin(jb);
  write_ramp(jb, 100, 50);
  jb_end(jb);
  jb_begin(jb);
  write_ramp(jb, 7000, 60);
  jb_end(jb);
  r = jb_read(jb, out, 600, 4);
  assert_int_equal(r.audio, 60);
  assert_ramp(out, 7000, 60);
  s = stats(jb);
  assert_false(s.playing);
  assert_int_equal(s.underruns, 0);
  jb_destroy(jb);
}

static void wraparound(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(1000, 1);
  size_t cap = jb_capacity(jb);
  assert_int_equal(cap, 1024); /* rounded up to a power of two */
  int16_t out[1024];
  jb_begin(jb);
  int next_w = 0, next_r = 0;
  /* Odd sizes, so the copies straddle the end of the ring at every offset. */
  for (int round = 0; round < 2000; round++) {
    size_t n = (size_t)(round * 37 % 700) + 1;
    write_ramp(jb, next_w, n);
    next_w += (int)n;
    jb_read_result r = jb_read(jb, out, n, 1);
    assert_int_equal(r.audio, n);
    assert_ramp(out, next_r, n);
    next_r += (int)n;
  }
  assert_int_equal(stats(jb).underruns, 0);
  assert_true(stats(jb).samples_played > 100 * cap);

  /* Full: the writer never blocks, the tail is dropped and counted. */
  int16_t big[1100];
  for (int i = 0; i < 1100; i++) big[i] = (int16_t)(next_w + i);
  assert_int_equal(jb_write(jb, big, 1100), cap);
  assert_int_equal(stats(jb).dropped, 1100 - cap);
  assert_int_equal(stats(jb).buffered, cap);
  jb_read_result r = jb_read(jb, out, cap, 1);
  assert_int_equal(r.audio, cap);
  assert_ramp(out, next_w, cap);
  jb_destroy(jb);
}

static void new_sound_behind_a_full_ring(void **state) {
  (void)state;
  /* The furthest a new sound can start from the reader: a whole ring of
   * leftovers ahead of it. The reader skips all of them, no more. */
  jitter_buffer *jb = jb_create(1024, 1);
  int16_t out[1024];
  jb_begin(jb);
  write_ramp(jb, 1, 1024);
  assert_int_equal(jb_read(jb, out, 24, 1).audio, 24);
  write_ramp(jb, 1025, 24); /* full again: r = 24, w = 1048 */
  jb_begin(jb);
  int16_t one = 2000;
  assert_int_equal(jb_write(jb, &one, 1), 0); /* no room until the skip */
  jb_read_result r = jb_read(jb, out, 10, 2);  /* sees the begin: skips 1024 */
  assert_int_equal(r.audio, 0);
  assert_int_equal(jb_write(jb, &one, 1), 1);
  jb_end(jb);
  r = jb_read(jb, out, 10, 3);
  assert_int_equal(r.audio, 1);
  assert_int_equal(out[0], 2000);
  assert_false(stats(jb).playing);
  jb_destroy(jb);
}

static void leftovers_hold_space_until_read(void **state) {
  (void)state;
  /* The reader owns the old sound's samples until it has seen the new
   * begin, so the writer must not overwrite them: it drops instead. */
  jitter_buffer *jb = jb_create(1024, 1);
  int16_t out[1024];
  jb_begin(jb);
  write_ramp(jb, 0, 1000);
  jb_begin(jb);
  int16_t buf[100] = {0};
  assert_int_equal(jb_write(jb, buf, 100), 24);
  jb_read(jb, out, 10, 1); /* sees the new sound, frees the old */
  write_ramp(jb, 0, 1000);
  jb_destroy(jb);
}

/* ---- two threads ---- */

#define STRESS_SOUNDS 200
#define STRESS_CAP 4096

typedef struct stress {
  jitter_buffer *jb;
  atomic_bool writer_done;
  atomic_int last_value; /* the last sample value written */
  /* writer's record, read by the test thread after both joined */
  uint16_t sound_start[STRESS_SOUNDS]; /* value of each sound's first sample */
  int drained_sounds;                  /* sounds it let play out before the next */
  /* reader's findings */
  uint64_t audio;
  uint16_t landing[STRESS_SOUNDS]; /* first value read, then where each jump landed */
  int landings;
  uint64_t backwards;  /* a repeated sample, or more landings than sounds */
  uint64_t bad_reads;  /* results out of range, or noise in the silence */
  int last_read;
} stress;

static unsigned next_rand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

static void *stress_writer(void *arg) {
  stress *st = arg;
  unsigned seed = 1;
  int16_t buf[960];
  uint16_t value = 0;
  for (int sound = 0; sound < STRESS_SOUNDS; sound++) {
    jb_begin(st->jb);
    st->sound_start[sound] = (uint16_t)(value + 1);
    size_t left = 2000 + next_rand(&seed) % 20000;
    while (left > 0) {
      size_t n = 1 + next_rand(&seed) % 960;
      if (n > left) n = left;
      for (size_t i = 0; i < n; i++) buf[i] = (int16_t)++value;
      size_t done = 0;
      while (done < n) { /* a full buffer drops; here we retry the rest */
        size_t k = jb_write(st->jb, buf + done, n - done);
        done += k;
        if (k == 0) sched_yield();
      }
      left -= n;
      if (next_rand(&seed) % 4 == 0) sched_yield();
    }
    if (sound == STRESS_SOUNDS - 1 || next_rand(&seed) % 2) {
      jb_end(st->jb);
      if (next_rand(&seed) % 3 == 0) { /* let it drain: the next one follows without a skip */
        jb_stats s;
        do {
          sched_yield();
          jb_get_stats(st->jb, &s);
        } while (s.playing);
        st->drained_sounds++;
      }
    }
    atomic_store(&st->last_value, (int16_t)value);
  }
  atomic_store(&st->writer_done, true);
  return NULL;
}

static void *stress_reader(void *arg) {
  stress *st = arg;
  unsigned seed = 2;
  int16_t out[1024];
  bool have_last = false;
  uint16_t last = 0;
  for (;;) {
    bool done = atomic_load(&st->writer_done);
    size_t n = 1 + next_rand(&seed) % 1024;
    jb_read_result r = jb_read(st->jb, out, n, 1);
    /* No cmocka assertions off the test's thread: count, check later. */
    if (r.audio > n || r.live > n || r.audio > r.live) st->bad_reads++;
    for (size_t i = r.audio; i < n; i++)
      if (out[i] != 0) st->bad_reads++;
    for (size_t i = 0; i < r.audio; i++) {
      uint16_t v = (uint16_t)out[i];
      if (!have_last || (uint16_t)(v - last) != 1) {
        /* Not the next sample: a new sound's begin dropped what was left of
         * the old one (and maybe whole sounds the reader never saw). Where
         * it landed is checked against the writer's record after the join. */
        if (have_last && v == last) st->backwards++;
        else if (st->landings == STRESS_SOUNDS) st->backwards++;
        else st->landing[st->landings++] = v;
      }
      last = v;
      have_last = true;
    }
    st->audio += r.audio;
    if (done) {
      jb_stats s;
      jb_get_stats(st->jb, &s);
      if (!s.playing) break;
    }
    if (next_rand(&seed) % 3 == 0) sched_yield();
  }
  st->last_read = have_last ? (int16_t)last : -1;
  return NULL;
}

/* Every jump lands on the first sample of a sound that the writer began
 * after the one being played: the reader only ever moves forward, and only
 * to a sound's start. (Values are 16 bits and wrap, so a landing matches
 * the earliest later sound with that start; a coincidence can only make
 * this check more lenient, never fail a correct buffer.) */
static void assert_landings_are_later_sound_starts(const stress *st) {
  int sound = -1;
  for (int j = 0; j < st->landings; j++) {
    int k = sound + 1;
    while (k < STRESS_SOUNDS && st->sound_start[k] != st->landing[j]) k++;
    if (k == STRESS_SOUNDS) fail_msg("jump %d landed on %u: not a later sound's start", j, st->landing[j]);
    sound = k;
  }
}

static void two_threads_keep_order(void **state) {
  (void)state;
  stress st = {.jb = jb_create(STRESS_CAP, 256)};
  atomic_init(&st.writer_done, false);
  atomic_init(&st.last_value, 0);
  pthread_t w, r;
  assert_int_equal(pthread_create(&r, NULL, stress_reader, &st), 0);
  assert_int_equal(pthread_create(&w, NULL, stress_writer, &st), 0);
  pthread_join(w, NULL);
  pthread_join(r, NULL);
  jb_stats s;
  jb_get_stats(st.jb, &s);
  print_message("      stress: %llu samples read, %d sounds drained, %d skips to a new "
                "sound, %u underruns, %llu refused while full\n",
                (unsigned long long)st.audio, st.drained_sounds, st.landings - 1,
                s.underruns, (unsigned long long)s.dropped);
  assert_int_equal(st.backwards, 0);
  assert_int_equal(st.bad_reads, 0);
  assert_true(st.drained_sounds > 0);
  assert_true(st.landings - 1 <= STRESS_SOUNDS - st.drained_sounds);
  assert_landings_are_later_sound_starts(&st);
  assert_true(st.audio > 100000);
  assert_int_equal(s.samples_played, st.audio);
  /* The last sound ended and drained: its last sample was read. */
  assert_int_equal(st.last_read, atomic_load(&st.last_value));
  jb_destroy(st.jb);
}

/* 120 ms packets (5760 samples) against a 60 ms start threshold, read 10 ms
 * at a time as the null and WAV outputs do: the threshold is a duration, so
 * one packet starts the sound at once, and packets that come at least a
 * packet's length ahead of the playhead never underrun. */
static void long_packets_prime_by_duration(void **state) {
  (void)state;
  enum { PACKET = 5760, BLOCK = 480, PRIME_60MS = 2880 };
  jitter_buffer *jb = jb_create(4 * 48000, PRIME_60MS);
  static int16_t packet[PACKET];
  int16_t out[BLOCK];
  jb_begin(jb);
  for (int i = 0; i < PACKET; i++) packet[i] = 1000;
  assert_int_equal(jb_write(jb, packet, PACKET), PACKET);
  jb_read_result r = jb_read(jb, out, BLOCK, 1000);
  assert_int_equal(r.audio, BLOCK); /* started by the first packet alone */
  assert_int_equal(stats(jb).first_sample_ns, 1000);
  /* Ten packets, each written when the one before has half played. */
  for (int p = 0; p < 10; p++) {
    for (int b = 0; b < PACKET / BLOCK / 2; b++) assert_int_equal(jb_read(jb, out, BLOCK, 1).audio, BLOCK);
    assert_int_equal(jb_write(jb, packet, PACKET), PACKET);
    for (int b = 0; b < PACKET / BLOCK / 2; b++) assert_int_equal(jb_read(jb, out, BLOCK, 1).audio, BLOCK);
  }
  assert_int_equal(stats(jb).underruns, 0);
  jb_destroy(jb);
}

/* silent_ns: when the last sample of a drained sound has played, i.e. the
 * drain read's time plus the audio it handed out; 0 while playing. */
static void silent_time_after_drain(void **state) {
  (void)state;
  jitter_buffer *jb = jb_create(4096, PRIME);
  int16_t out[480];
  jb_begin(jb);
  write_ramp(jb, 1, 720); /* 15 ms */
  jb_end(jb);
  assert_int_equal(jb_read(jb, out, 480, 1000000).audio, 480);
  assert_int_equal(stats(jb).silent_ns, 0);
  jb_read_result r = jb_read(jb, out, 480, 2000000);
  assert_int_equal(r.audio, 240);
  jb_stats s = stats(jb);
  assert_false(s.playing);
  assert_int_equal(s.silent_ns, 2000000 + 5000000); /* 240 samples: 5 ms */
  /* A new sound has no silent time until it has drained too. */
  jb_begin(jb);
  assert_int_equal(stats(jb).silent_ns, 0);
  jb_destroy(jb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(idle_before_any_sound),
      cmocka_unit_test(priming_threshold),
      cmocka_unit_test(drain_on_end),
      cmocka_unit_test(drain_exact),
      cmocka_unit_test(short_sound_plays),
      cmocka_unit_test(empty_sound),
      cmocka_unit_test(underrun_only_mid_sound),
      cmocka_unit_test(begin_drops_leftovers),
      cmocka_unit_test(wraparound),
      cmocka_unit_test(new_sound_behind_a_full_ring),
      cmocka_unit_test(leftovers_hold_space_until_read),
      cmocka_unit_test(two_threads_keep_order),
      cmocka_unit_test(long_packets_prime_by_duration),
      cmocka_unit_test(silent_time_after_drain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
