/* One device's sounds in progress: the one playing and the stopped one
 * that still owes its is_end, paced into an audio call. Playback sends and
 * logs; it never changes the device's state. When a sound is over it says
 * so, and the caller runs the state machine. */
#ifndef OPAL_PLAYBACK_H
#define OPAL_PLAYBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "calls/audio_call.h"
#include "devices/device_log_limit.h"
#include "packet_digest.h"
#include "sounds/sound.h"

/* A sound being sent: a cursor into a shared packet list, and what the
 * device has been sent of it (logged, with its digest, at the end). */
typedef struct sound_cursor {
  /* Borrowed from the sound library; NULL when none. The mode's sound until
   * its first packet goes out, then its variant in the packets the audio
   * call was granted (sound_with_packets). */
  const sound *sound;
  unsigned mode;
  size_t next; /* the next packet to send */
  unsigned packet_ms; /* the packets' duration (20 ms until the first goes out) */
  packet_digest sent;
} sound_cursor;

typedef struct playback {
  sound_cursor current;
  int64_t start_ns; /* when the current sound's packet 0 was due, before the lead */
  /* A stopped or preempted sound still owes the device its is_end packet,
   * sent before anything else. */
  sound_cursor ending;
  const char *ending_reason; /* a string literal */
} playback;

/* `who` in every function below labels and limits the log lines. */

/* Starts `s` (mode `mode`'s sound) from its first packet at `now_ns`.
 * Nothing is sent until playback_pump. */
void playback_start(playback *p, const device_log *who, const sound *s, unsigned mode,
                    int64_t now_ns);

/* Ends the current sound: its next packet is owed as is_end, ahead of
 * anything else, and nothing more of it. A sound that sent nothing yet is
 * dropped silently. `reason` is a string literal, for the log. */
void playback_end(playback *p, const device_log *who, const char *reason);

/* The audio call went away: forget every sound, nothing more can be sent.
 * True when a sound was playing, so the sound is over. */
bool playback_abandon(playback *p, const device_log *who, const char *reason);

/* Sends on `c` what is due by `send_by_ns` (the owed is_end first), if `c`
 * is free; a packet may leave a little before it is due, and how late it
 * left is measured at `now_ns`. True when that was the current sound's
 * last packet: the sound is over. */
bool playback_pump(playback *p, const device_log *who, audio_call *c, int64_t lead_ns,
                   int64_t now_ns, int64_t send_by_ns);

/* When playback_pump next has something to send: INT64_MIN for an owed
 * is_end (at once), the current sound's next packet's due time, or
 * INT64_MAX when nothing is in progress. */
int64_t playback_next_due_ns(const playback *p, int64_t lead_ns);

#endif
