#include "playback.h"

#include "audio_packet.h"
#include "clock.h"
#include "log.h"
#include "pacer.h"

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

/* The sound is no longer in progress (an is_end may still be owed). */
static void close_sound(device *d, const char *reason) {
  playback *p = &d->playback;
  char digest[PACKET_DIGEST_HEX_LEN];
  packet_digest_hex(&p->sent, digest);
  log_info("stream end device=%s mode=%u reason=%s packets=%llu/%zu digest=%s", d->id,
           p->mode, reason, (unsigned long long)p->sent.packets, p->sound->count, digest);
  p->sound = NULL;
  unlink_playing(d);
}

static void count_packet(playback *p, const sound *s, size_t i) {
  packet_digest_add(&p->sent, sound_packet_data(s, i), s->packets[i].size);
}

static void send_packet(rpc_call *c, const sound *s, size_t i, bool is_end) {
  rpc_call_send(c, audio_packet_buffer(sound_packet_data(s, i),
                                       s->packets[i].size, i == 0, is_end));
}

void playback_start(device *d) {
  playback *p = &d->playback;
  p->mode = d->state.mode;
  p->sound = &d->server->config.sounds->sounds[p->mode];
  p->next = 0;
  p->start_ns = clock_now_ns();
  packet_digest_init(&p->sent);
  link_playing(d);
  log_info("stream start device=%s mode=%u sound=%s packets=%zu duration_ms=%llu",
           d->id, p->mode, p->sound->name, p->sound->count,
           (unsigned long long)sound_duration_ms(p->sound));
  playback_pump(d);
}

void playback_end(device *d, const char *reason) {
  playback *p = &d->playback;
  if (!p->sound) return;
  /* A sound the device never saw start needs no end. */
  if (p->next > 0) {
    p->ending = p->sound;
    p->ending_index = p->next;
    count_packet(p, p->sound, p->next);
  }
  close_sound(d, reason);
  playback_pump(d);
}

void playback_abandon(device *d, const char *reason) {
  playback *p = &d->playback;
  p->ending = NULL;
  if (!p->sound) return;
  close_sound(d, reason);
  device_apply(d, device_machine_sound_over(&d->state).effects, reason);
}

void playback_pump(device *d) {
  rpc_call *c = d->calls[CALL_AUDIO];
  if (!c || !rpc_call_can_send(c)) return;
  playback *p = &d->playback;
  if (p->ending) {
    send_packet(c, p->ending, p->ending_index, true);
    p->ending = NULL;
    return;
  }
  if (!p->sound ||
      !pacer_is_due(p->sound, p->next, p->start_ns, d->server->config.lead_ns,
                    clock_now_ns()))
    return;
  bool last = p->next + 1 == p->sound->count;
  send_packet(c, p->sound, p->next, last);
  count_packet(p, p->sound, p->next);
  p->next++;
  if (last) {
    close_sound(d, "natural");
    device_apply(d, device_machine_sound_over(&d->state).effects, "natural");
  }
}

void playback_tick(opal_server *s) {
  device *d = s->playing;
  while (d) {
    device *next = d->playing_next; /* pumping may unlink d */
    playback_pump(d);
    d = next;
  }
}
