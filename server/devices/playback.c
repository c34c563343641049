#include "devices/playback.h"

#include "devices/pacer.h"
#include "metrics/metrics.h"

/* Logs the end of a sound with what the device was sent of it. */
static void log_end(const device_log *who, const sound_cursor *cur, const char *reason) {
  metrics_stream_ended(reason);
  char digest[PACKET_DIGEST_HEX_LEN];
  packet_digest_hex(&cur->sent, digest);
  DEVICE_LOG(who, LOG_INFO,
             "stream end device=%s mode=%u reason=%s packets=%llu/%zu digest=%s packet_ms=%u",
             who->id, cur->mode, reason, (unsigned long long)cur->sent.packets, cur->sound->count,
             digest, cur->packet_ms);
}

/* Sends packet `cur->next` and moves the cursor on. */
static void send_next(audio_call *c, sound_cursor *cur, bool is_end) {
  const sound *s = cur->sound;
  size_t i = cur->next++;
  const uint8_t *data = sound_packet_data(s, i);
  /* Packets go out in order from the first: what was sent is a prefix. */
  cur->sent.hash = s->packets[i].digest_after;
  cur->sent.packets++;
  cur->sent.bytes += s->packets[i].size;
  audio_call_send_packet(c, data, s->packets[i].size, i == 0, is_end);
}

void playback_start(playback *p, const device_log *who, const sound *s, unsigned mode,
                    int64_t now_ns) {
  sound_cursor *cur = &p->current;
  cur->mode = mode;
  cur->sound = s;
  cur->next = 0;
  cur->packet_ms = SOUND_PACKET_MS_STEP;
  packet_digest_init(&cur->sent);
  p->start_ns = now_ns;
  metrics_stream_started();
  DEVICE_LOG(who, LOG_INFO, "stream start device=%s mode=%u sound=%s packets=%zu duration_ms=%llu",
             who->id, mode, s->name, s->count, (unsigned long long)sound_duration_ms(s));
}

void playback_end(playback *p, const device_log *who, const char *reason) {
  if (!p->current.sound) return;
  if (p->current.next == 0) {
    /* A sound the device never saw start needs no end. */
    log_end(who, &p->current, reason);
  } else {
    p->ending = p->current;
    p->ending_reason = reason;
  }
  p->current.sound = NULL;
}

bool playback_abandon(playback *p, const device_log *who, const char *reason) {
  if (p->ending.sound) {
    log_end(who, &p->ending, p->ending_reason); /* its is_end will never go out */
    p->ending.sound = NULL;
  }
  if (!p->current.sound) return false;
  log_end(who, &p->current, reason);
  p->current.sound = NULL;
  return true;
}

/* The owed is_end of a stopped sound goes out before anything else. */
static bool send_owed_end(playback *p, const device_log *who, audio_call *c) {
  if (!p->ending.sound) return false;
  send_next(c, &p->ending, true);
  log_end(who, &p->ending, p->ending_reason);
  p->ending.sound = NULL;
  return true;
}

/* The current sound's next packet, if pacing says it is due. True when it
 * was the last. */
static bool send_due_packet(playback *p, const device_log *who, audio_call *c, int64_t lead_ns,
                            int64_t now_ns, int64_t send_by_ns) {
  sound_cursor *cur = &p->current;
  if (!cur->sound || !pacer_is_due(cur->sound, cur->next, p->start_ns, lead_ns, send_by_ns))
    return false;
  /* The packet size is the call's grant when the sound starts: every
   * variant's packet 0 starts at sample 0, so it is due at once all the same. */
  if (cur->next == 0) {
    const sound *base = cur->sound;
    cur->sound = sound_with_packets(base, audio_call_packet_ms(c));
    cur->packet_ms = sound_packet_ms(base, cur->sound);
  }
  bool last = cur->next + 1 == cur->sound->count;
  metrics_packet_left(now_ns, pacer_due_ns(cur->sound, cur->next, p->start_ns, lead_ns),
                      p->start_ns, cur->next == 0);
  send_next(c, cur, last);
  if (!last) return false;
  log_end(who, cur, "natural");
  cur->sound = NULL;
  return true;
}

bool playback_pump(playback *p, const device_log *who, audio_call *c, int64_t lead_ns,
                   int64_t now_ns, int64_t send_by_ns) {
  if (!audio_call_can_send(c)) return false;
  if (send_owed_end(p, who, c)) return false;
  return send_due_packet(p, who, c, lead_ns, now_ns, send_by_ns);
}

int64_t playback_next_due_ns(const playback *p, int64_t lead_ns) {
  if (p->ending.sound) return INT64_MIN; /* the owed is_end: at once */
  const sound_cursor *cur = &p->current;
  if (!cur->sound) return INT64_MAX;
  return pacer_due_ns(cur->sound, cur->next, p->start_ns, lead_ns);
}
