#include "devices/playback.h"

#include "sounds/audio_packet.h"
#include "clock.h"
#include "log.h"
#include "devices/pacer.h"

static void link_playing(device *d) {
  opal_server *s = d->server;
  if (d->playing_prev || s->playing == d) return;
  d->playing_next = s->playing;
  if (s->playing) s->playing->playing_prev = d;
  s->playing = d;
}

static void unlink_playing(device *d) {
  opal_server *s = d->server;
  if (d->playing_prev) d->playing_prev->playing_next = d->playing_next;
  else if (s->playing == d) s->playing = d->playing_next;
  if (d->playing_next) d->playing_next->playing_prev = d->playing_prev;
  d->playing_prev = d->playing_next = NULL;
}

/* Logs the end of a sound with what the device was sent of it. */
static void log_end(const device *d, const sound_cursor *cur, const char *reason) {
  char digest[PACKET_DIGEST_HEX_LEN];
  packet_digest_hex(&cur->sent, digest);
  log_info("stream end device=%s mode=%u reason=%s packets=%llu/%zu digest=%s", d->id,
           cur->mode, reason, (unsigned long long)cur->sent.packets, cur->sound->count, digest);
}

/* Sends packet `cur->next` and moves the cursor on. */
static void send_next(rpc_call *c, sound_cursor *cur, bool is_end) {
  const sound *s = cur->sound;
  size_t i = cur->next++;
  const uint8_t *data = sound_packet_data(s, i);
  packet_digest_add(&cur->sent, data, s->packets[i].size);
  rpc_call_send(c, audio_packet_buffer(data, s->packets[i].size, i == 0, is_end));
}

/* The device is no longer playing: idle state, idle LEDs. */
static void sound_over(device *d, const char *reason) {
  unlink_playing(d);
  device_apply(d, device_machine_sound_over(&d->state).effects, reason);
}

void playback_start(device *d) {
  playback *p = &d->playback;
  sound_cursor *cur = &p->current;
  cur->mode = d->state.mode;
  cur->sound = &d->server->config.sounds->sounds[cur->mode];
  cur->next = 0;
  packet_digest_init(&cur->sent);
  p->start_ns = clock_now_ns();
  link_playing(d);
  log_info("stream start device=%s mode=%u sound=%s packets=%zu duration_ms=%llu", d->id,
           cur->mode, cur->sound->name, cur->sound->count,
           (unsigned long long)sound_duration_ms(cur->sound));
  playback_pump(d);
}

void playback_end(device *d, const char *reason) {
  playback *p = &d->playback;
  if (!p->current.sound) return;
  if (p->current.next == 0) {
    /* A sound the device never saw start needs no end. */
    log_end(d, &p->current, reason);
  } else {
    p->ending = p->current;
    p->ending_reason = reason;
  }
  p->current.sound = NULL;
  unlink_playing(d);
  playback_pump(d);
}

void playback_abandon(device *d, const char *reason) {
  playback *p = &d->playback;
  if (p->ending.sound) {
    log_end(d, &p->ending, p->ending_reason); /* its is_end will never go out */
    p->ending.sound = NULL;
  }
  if (!p->current.sound) return;
  log_end(d, &p->current, reason);
  p->current.sound = NULL;
  sound_over(d, reason);
}

/* The owed is_end of a stopped sound goes out before anything else. */
static bool send_owed_end(device *d, rpc_call *c) {
  playback *p = &d->playback;
  if (!p->ending.sound) return false;
  send_next(c, &p->ending, true);
  log_end(d, &p->ending, p->ending_reason);
  p->ending.sound = NULL;
  return true;
}

/* The current sound's next packet, if pacing says it is due. */
static void send_due_packet(device *d, rpc_call *c) {
  playback *p = &d->playback;
  sound_cursor *cur = &p->current;
  if (!cur->sound ||
      !pacer_is_due(cur->sound, cur->next, p->start_ns, d->server->config.lead_ns, clock_now_ns()))
    return;
  bool last = cur->next + 1 == cur->sound->count;
  send_next(c, cur, last);
  if (last) {
    log_end(d, cur, "natural");
    cur->sound = NULL;
    sound_over(d, "natural");
  }
}

void playback_pump(device *d) {
  rpc_call *c = d->calls[CALL_AUDIO];
  if (!c || !rpc_call_can_send(c)) return;
  if (!send_owed_end(d, c)) send_due_packet(d, c);
}

void playback_tick(opal_server *s) {
  device *d = s->playing;
  while (d) {
    device *next = d->playing_next; /* pumping may unlink d */
    playback_pump(d);
    d = next;
  }
}
