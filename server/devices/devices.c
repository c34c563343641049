#include "devices/devices.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "devices/forget_rule.h"
#include "devices/led_pattern.h"
#include "log.h"
#include "metrics/metrics.h"

_Static_assert(SOUND_LIBRARY_MAX_MODES <= LED_PATTERN_MAX_MODES,
               "every mode the server can load needs an LED pattern of its own");
_Static_assert(LED_PATTERN_COUNT == STATUS_CALL_LEDS,
               "a pattern covers exactly the LEDs a SET carries");

/* registry_check_fn */
static bool can_forget(const device *d, void *ctx) {
  const devices *ds = ctx;
  return forget_loses_nothing(d, device_store_keeps(&ds->kept));
}

static void unlink_playing(device *d);

/* registry_forget_fn: whatever the registry forgets, by need or sweep. */
static void forgetting(device *d, void *ctx) {
  devices *ds = ctx;
  unlink_playing(d);
  log_debug("forget device=%s mode=%u", d->id, d->state.mode);
  if (ds->owner.release && !d->foreign) ds->owner.release(ds->owner.ctx, d->id);
}

void devices_init(devices *ds, const sound_library *sounds, int64_t lead_ns, size_t limit,
                  store *st, new_devices *rate) {
  memset(ds, 0, sizeof *ds);
  registry_hooks hooks = {.can_forget = can_forget, .forgetting = forgetting, .ctx = ds};
  registry_init(&ds->registry, limit, &hooks);
  ds->sounds = sounds;
  ds->lead_ns = lead_ns;
  ds->log_tag = "";
  ds->new_devices = rate;
  ds->next_sweep_ns = clock_now_ns() + DEVICES_SWEEP_NS;
  device_log_limit_init(&ds->log_limit, DEVICE_LOG_DEFAULT_RATE);
  device_store_init(&ds->kept, st);
  due_queue_init(&ds->due);
}

void devices_limit_streams(devices *ds, size_t max_streams, int64_t max_lag_ns) {
  ds->max_streams = max_streams;
  ds->max_lag_ns = max_lag_ns;
}

void devices_limit_logs(devices *ds, unsigned rate) {
  device_log_limit_clear(&ds->log_limit);
  device_log_limit_init(&ds->log_limit, rate);
}

void devices_log_work(devices *ds, int64_t now_ns) {
  device_log_limit_sweep(&ds->log_limit, now_ns);
}

void devices_set_owner(devices *ds, const devices_owner_hooks *owner, const char *log_tag) {
  ds->owner = *owner;
  ds->log_tag = log_tag;
}

/* A connection's first call for `d` reached this set. Another worker may
 * have the device (it hands it over), or the store its record. */
static void claim(devices *ds, device *d, bool is_new) {
  int64_t now = clock_now_ns();
  if (ds->owner.claim && ds->owner.claim(ds->owner.ctx, d->id)) {
    d->foreign = false;
    device_store_begin_wait(&ds->kept, d, now);
  } else if (is_new || d->foreign) {
    d->foreign = false;
    device_store_begin_load(&ds->kept, d, now);
  }
}

/* The device has no open call (any more): forgotten at once, or listed
 * as spare or kept, by forget_rule.h. It may be gone on return. */
static void settle(device *d) {
  registry *r = &d->devices->registry;
  bool kept = device_store_keeps(&d->devices->kept);
  int64_t now = clock_now_ns();
  if (!d->offline) registry_offline(r, d, false, now);
  if (forget_at_once(d, kept)) registry_forget(r, d);
  else if (forget_loses_nothing(d, kept)) registry_spare(r, d, now);
}

/* device_store_take_written: the store holds the device's version now. */
static void on_written(device *d) {
  if (d->offline) settle(d);
}

/* Says why a new device found no room, in the call's status and, once in
 * a while, the log. */
static void refuse_full(devices *ds, char *why, size_t why_len) {
  ds->counts.refused_full++;
  metrics_device_refused(METRICS_REFUSED_FULL);
  snprintf(why, why_len, "no room for a new device: the server remembers %zu devices "
           "(--max-devices) and none can be forgotten without losing its mode (they are "
           "connected, or their mode is not yet in a persistent store)", ds->registry.count);
  uint64_t n;
  if (log_throttle_due(&ds->full_log, clock_now_ns(), &n))
    log_warn("refused %llu new device(s) since the last such line%s: %s",
             (unsigned long long)n, ds->log_tag, why);
}

/* A device for an id the registry does not have, or NULL (see devices_get). */
static device *add_new(devices *ds, const char *id, const char *peer, char *why,
                       size_t why_len) {
  if (!new_devices_take(ds->new_devices, peer, clock_now_ns(), why, why_len)) {
    ds->counts.refused_rate++;
    metrics_device_refused(METRICS_REFUSED_RATE);
    return NULL;
  }
  bool full;
  device *d = registry_add(&ds->registry, id, &full);
  if (!d && full) {
    /* Writes the store confirmed since the last sweep may make room. */
    device_store_take_written(&ds->kept, &ds->registry, on_written);
    d = registry_add(&ds->registry, id, &full);
  }
  if (d) {
    d->devices = ds;
    d->log = (device_log){.limit = &ds->log_limit, .id = d->id};
    return d;
  }
  if (full) {
    refuse_full(ds, why, why_len);
  } else {
    ds->counts.refused_memory++;
    metrics_device_refused(METRICS_REFUSED_MEMORY);
    snprintf(why, why_len, "no room for a new device: the server is out of memory");
  }
  return NULL;
}

device *devices_get(devices *ds, const char *id, const char *peer, char *why, size_t why_len) {
  device *d = registry_find(&ds->registry, id);
  bool is_new = !d;
  if (is_new && !(d = add_new(ds, id, peer, why, why_len))) return NULL;
  /* A device with calls here is served here: only a first call claims. */
  if ((is_new || d->offline) && !d->loading) claim(ds, d, is_new);
  return d;
}

void devices_clear(devices *ds) {
  const devices_counts *c = &ds->counts;
  log_info("devices%s: %zu remembered, %llu forgotten; new devices refused: %llu for want of "
           "room, %llu over the rate, %llu out of memory; memory handed back %llu times",
           ds->log_tag, ds->registry.count, (unsigned long long)ds->registry.forgotten,
           (unsigned long long)c->refused_full, (unsigned long long)c->refused_rate,
           (unsigned long long)c->refused_memory, (unsigned long long)c->trims);
  log_info("streams%s: Play refused %llu times at --max-streams, %llu times with pacing late "
           "past --max-pacing-lag-ms", ds->log_tag, (unsigned long long)c->refused_streams,
           (unsigned long long)c->refused_lag);
  due_queue_clear(&ds->due); /* before the devices its items live in */
  ds->streams = 0;
  registry_clear(&ds->registry);
  device_store_clear(&ds->kept);
  device_log_limit_clear(&ds->log_limit);
  ds->playing = NULL;
}

/* ---- Effects of the state machine ---- */

static bool is_playing(const device *d) {
  return d->playing_prev || d->devices->playing == d;
}

/* The due queue has room for every playing device (play_refusal made
 * it before the Play), so scheduling one never fails. */
static void link_playing(device *d) {
  devices *ds = d->devices;
  if (is_playing(d)) return;
  d->playing_next = ds->playing;
  if (ds->playing) ds->playing->playing_prev = d;
  ds->playing = d;
  ds->streams++;
}

static void unlink_playing(device *d) {
  devices *ds = d->devices;
  due_queue_remove(&ds->due, &d->due);
  if (!is_playing(d)) return;
  if (d->playing_prev) d->playing_prev->playing_next = d->playing_next;
  else ds->playing = d->playing_next;
  if (d->playing_next) d->playing_next->playing_prev = d->playing_prev;
  d->playing_prev = d->playing_next = NULL;
  ds->streams--;
}

static void current_leds(const device *d, uint32_t leds[LED_PATTERN_COUNT]) {
  led_pattern(d->state.mode, d->state.playing, leds);
}

static void show_leds(device *d) {
  if (!d->status) return;
  uint32_t leds[LED_PATTERN_COUNT];
  current_leds(d, leds);
  status_call_show(d->status, leds);
}

static void start_sound(device *d) {
  unsigned mode = d->state.mode;
  playback_start(&d->playback, &d->log, &d->devices->sounds->sounds[mode], mode, clock_now_ns());
  link_playing(d);
}

static void end_sound(device *d, const char *reason) {
  playback_end(&d->playback, &d->log, reason);
  unlink_playing(d);
}

/* The effects in the order device_machine.h gives them. Nothing of a sound
 * is sent here: that is pump's, so a sound that ends at once does not run
 * the machine again from inside this. */
static void carry_out(device *d, unsigned effects, const char *reason) {
  if (effects & EFFECT_LEDS) show_leds(d);
  if (effects & EFFECT_END_SOUND) end_sound(d, reason);
  if (effects & EFFECT_START_SOUND) start_sound(d);
}

/* The sound ended by itself, or its stream went away. */
static void sound_over(device *d, const char *reason) {
  unlink_playing(d);
  carry_out(d, device_machine_sound_over(&d->state).effects, reason);
}

/* Queues the device at its next packet's due time while it plays and its
 * call is free; a busy call pumps it when it is free (on_audio_free_to_send). */
static void schedule(device *d) {
  devices *ds = d->devices;
  int64_t due = d->audio && audio_call_can_send(d->audio)
                    ? playback_next_due_ns(&d->playback, ds->lead_ns)
                    : INT64_MAX;
  if (due == INT64_MAX || !is_playing(d)) {
    due_queue_remove(&ds->due, &d->due);
    return;
  }
  /* A due time already past (an owed is_end) is due now: the loop must
   * not wait on a deadline in the past. */
  int64_t now = clock_now_ns();
  (void)due_queue_set(&ds->due, &d->due, due > now ? due : now); /* room: play_refusal */
}

/* A packet due at `due_ns` went out at `now_ns`: how late, counted from
 * the stream's start for the lead's burst (due before the Play). */
static void note_lateness(device *d, int64_t due_ns, int64_t start_ns, int64_t now_ns) {
  devices *ds = d->devices;
  if (!ds->max_lag_ns) return;
  int64_t from = due_ns > start_ns ? due_ns : start_ns;
  pacing_lag_note(&ds->lag, now_ns - from, ds->max_lag_ns, now_ns);
}

/* Sends what is due (or due within DEVICES_PACING_EARLY_NS) on the audio
 * call, if it is free, and queues the device for its next packet. Every
 * packet is timed, whether the heap or the call's "free" callback sent
 * it: a loop that falls behind sends from the callbacks. */
static void pump(device *d) {
  if (d->audio) {
    int64_t now = clock_now_ns(), send_by = now + DEVICES_PACING_EARLY_NS;
    int64_t due = audio_call_can_send(d->audio)
                      ? playback_next_due_ns(&d->playback, d->devices->lead_ns)
                      : INT64_MAX;
    int64_t start = d->playback.start_ns;
    bool over = playback_pump(&d->playback, &d->log, d->audio, d->devices->lead_ns, now, send_by);
    if (due != INT64_MIN && due <= send_by) note_lateness(d, due, start, now);
    if (over) sound_over(d, "natural");
  }
  schedule(d);
}

/* `reason` names why a sound ends, for the log. */
static void apply(device *d, unsigned effects, const char *reason) {
  carry_out(d, effects, reason);
  if (effects & (EFFECT_END_SOUND | EFFECT_START_SOUND)) pump(d);
}

void devices_tick(devices *ds) {
  int64_t now = clock_now_ns();
  due_item *it;
  while ((it = due_queue_pop_due(&ds->due, now + DEVICES_PACING_EARLY_NS)))
    pump(container_of(it, device, due));
}

/* ---- Overload ---- */

/* Says why a Play that would start a new stream is refused, or NULL. */
static const char *play_refusal(device *d, char *why, size_t why_len, uint64_t **count) {
  devices *ds = d->devices;
  if (!d->audio) return "no audio stream open";
  if (is_playing(d)) return NULL; /* a new sound replaces its own: no new stream */
  int64_t lag = 0;
  bool late = ds->max_lag_ns && pacing_lag_over(&ds->lag, clock_now_ns(), &lag);
  if (ds->max_streams && ds->streams >= ds->max_streams) {
    *count = &ds->counts.refused_streams;
    snprintf(why, why_len, "server at capacity: %zu streams playing (--max-streams %zu)",
             ds->streams, ds->max_streams);
  } else if (late) {
    *count = &ds->counts.refused_lag;
    snprintf(why, why_len, "server overloaded: most packets went out more than %lld ms late "
             "for a second or more, up to %lld ms (--max-pacing-lag-ms)",
             (long long)(ds->max_lag_ns / 1000000), (long long)(lag / 1000000));
  } else if (!due_queue_reserve(&ds->due, ds->streams + 1)) {
    *count = &ds->counts.refused_streams;
    snprintf(why, why_len, "server out of memory for a new stream");
  } else {
    return NULL;
  }
  return why;
}

/* The refusal's count, and once in a while a log line saying why. */
static void log_refused_play(device *d, uint64_t *count, const char *why) {
  devices *ds = d->devices;
  (*count)++;
  metrics_play_refused(count == &ds->counts.refused_lag ? METRICS_PLAY_REFUSED_LAG
                                                        : METRICS_PLAY_REFUSED_STREAMS);
  uint64_t n;
  if (log_throttle_due(&ds->play_log, clock_now_ns(), &n))
    log_warn("refused %llu Play(s) since the last such line%s: %s",
             (unsigned long long)n, ds->log_tag, why);
}

/* ---- What the calls report ---- */

static bool on_button(void *owner, int button, int type) {
  device *d = owner;
  unsigned mode_before = d->state.mode;
  char why[160];
  uint64_t *count = NULL;
  const char *no_play = button == BUTTON_PLAY && type == EVENT_PRESS
                            ? play_refusal(d, why, sizeof why, &count)
                            : NULL;
  device_outcome o = device_machine_button(&d->state, button, type,
                                           d->devices->sounds->mode_count, no_play);
  if (count) log_refused_play(d, count, why);
  DEVICE_LOG(&d->log, LOG_INFO,
             "event device=%s button=%s(%d) type=%s(%d) ack=%s mode=%u state=%s%s%s", d->id,
             wire_button_label(button), button, wire_event_label(type), type,
             o.ack ? "true" : "false", d->state.mode, d->state.playing ? "playing" : "idle",
             o.note ? " note=" : "", o.note ? o.note : "");
  apply(d, o.effects, button == BUTTON_PLAY ? "preempted" : "stop");
  if (d->state.mode != mode_before) device_store_changed(&d->devices->kept, d, clock_now_ns());
  return o.ack;
}

static void on_audio_free_to_send(void *owner) { pump(owner); }

/* ---- Calls attaching and closing ---- */

static rpc_call *call_of(const device *d, wire_method m) {
  switch (m) {
  case METHOD_STATUS:
    return d->status ? status_call_rpc(d->status) : NULL;
  case METHOD_EVENT:
    return d->event ? event_call_rpc(d->event) : NULL;
  case METHOD_AUDIO:
    return d->audio ? audio_call_rpc(d->audio) : NULL;
  default:
    return NULL;
  }
}

static size_t open_calls(const device *d) {
  return (d->status != NULL) + (d->event != NULL) + (d->audio != NULL);
}

/* Lets go of the call of kind `m`. Losing the audio call also ends the
 * sound in progress (nothing can hear it), which changes the state and the
 * LEDs. */
static void let_go(device *d, wire_method m) {
  rpc_call *c = call_of(d, m);
  if (!c) return;
  rpc_call_set_owner(c, NULL, NULL);
  if (m == METHOD_STATUS) d->status = NULL;
  if (m == METHOD_EVENT) d->event = NULL;
  if (m == METHOD_AUDIO) {
    d->audio = NULL;
    if (playback_abandon(&d->playback, &d->log, "audio stream closed"))
      sound_over(d, "audio stream closed");
  }
}

/* A device whose last call goes is disconnected; it stays in the registry
 * while forgetting it would lose something (forget_rule.h). */
static void on_closed(void *owner, rpc_call *c) {
  device *d = owner;
  if (call_of(d, c->method) != c) return;
  let_go(d, c->method);
  if (open_calls(d) == 0) {
    DEVICE_LOG(&d->log, LOG_INFO, "disconnect device=%s mode=%u", d->id, d->state.mode);
    settle(d);
  }
}

/* True when some open call of `d` has `peer`. */
static bool peer_open(const device *d, const char *peer) {
  for (int k = 0; k < METHOD_COUNT; k++) {
    const rpc_call *old = call_of(d, (wire_method)k);
    if (old && strcmp(old->peer, peer) == 0) return true;
  }
  return false;
}

/* Ends whatever `c` supersedes (its kind's call, and every call of another
 * connection: device_link.h) and makes the device its owner; the caller
 * then puts it in its slot. */
static void take_over(device *d, rpc_call *c, const char *via) {
  size_t before = open_calls(d);
  int64_t now = clock_now_ns();
  call_origin from = {.peer = c->peer, .via = via};
  bool same = before > 0 && device_link_same(&d->link, &from, peer_open(d, c->peer),
                                             call_of(d, c->method) != NULL, now);
  bool taken_over = false;
  for (int k = 0; k < METHOD_COUNT; k++) {
    rpc_call *old = call_of(d, (wire_method)k);
    if (!old || (same && old->method != c->method)) continue;
    let_go(d, (wire_method)k);
    char why[192];
    snprintf(why, sizeof why, "device_id %s was taken over by a new connection (%s)", d->id,
             c->peer);
    rpc_call_abort(old, GRPC_STATUS_ABORTED, why);
    taken_over = true;
  }
  if (taken_over) metrics_takeover();
  device_link_update(&d->link, &from, now);
  rpc_call_set_owner(c, d, on_closed);
  registry_online(&d->devices->registry, d);
  /* A device still loading says its mode once it knows it (on_ready). */
  if (before == 0 && !d->loading)
    DEVICE_LOG(&d->log, LOG_INFO, "connect device=%s peer=%s mode=%u%s", d->id, c->peer,
               d->state.mode, d->devices->log_tag);
  else if (taken_over)
    DEVICE_LOG(&d->log, LOG_INFO, "takeover device=%s peer=%s mode=%u", d->id, c->peer,
               d->state.mode);
}

static void open_status(device *d) {
  uint32_t leds[LED_PATTERN_COUNT];
  current_leds(d, leds);
  status_call_open(d->status, &d->log, leds);
}

/* The device's record is in (or was not waited for any longer): the calls
 * that arrived meanwhile start, with the mode it has now. One whose calls
 * all closed meanwhile may be forgotten now. */
static void on_ready(device *d) {
  if (d->offline) {
    settle(d);
    return;
  }
  rpc_call *any = NULL;
  for (int k = 0; k < METHOD_COUNT && !any; k++) any = call_of(d, (wire_method)k);
  if (any)
    DEVICE_LOG(&d->log, LOG_INFO, "connect device=%s peer=%s mode=%u%s", d->id, any->peer,
               d->state.mode, d->devices->log_tag);
  if (d->status) open_status(d);
  if (d->event) event_call_open(d->event, &d->log, on_button);
}

void devices_attach_status(device *d, status_call *c, const char *via) {
  take_over(d, status_call_rpc(c), via);
  d->status = c;
  if (!d->loading) open_status(d);
}

void devices_attach_event(device *d, event_call *c, const char *via) {
  take_over(d, event_call_rpc(c), via);
  d->event = c;
  if (!d->loading) event_call_open(c, &d->log, on_button);
}

void devices_attach_audio(device *d, audio_call *c, const char *via) {
  take_over(d, audio_call_rpc(c), via);
  d->audio = c;
  audio_call_open(c, on_audio_free_to_send);
}

/* ---- The store ---- */

/* A record that came late changed the device's mode. */
static void on_changed(device *d) { show_leds(d); }

void devices_loaded(void *ctx, const char *id, const store_record *record) {
  devices *ds = ctx;
  device_store_loaded(&ds->kept, &ds->registry, id, record, ds->sounds->mode_count, on_ready,
                      on_changed);
}

void devices_handed(devices *ds, const char *id, const store_record *record) {
  devices_loaded(ds, id, record);
  device *d = registry_find(&ds->registry, id);
  if (d && !d->foreign && device_store_keeps(&ds->kept) && d->written_version < d->version)
    device_store_rewrite(&ds->kept, d, clock_now_ns());
}

/* Hands freed memory back once enough devices went since the last time;
 * malloc_trim walks the heap, so not for every few. */
static void give_back_memory(devices *ds) {
  if (ds->registry.forgotten - ds->forgotten_at_trim < DEVICES_TRIM_AFTER) return;
  ds->forgotten_at_trim = ds->registry.forgotten;
  ds->counts.trims++;
  malloc_trim(0);
  log_info("memory handed back: %llu devices forgotten so far, %zu remembered%s",
           (unsigned long long)ds->registry.forgotten, ds->registry.count, ds->log_tag);
}

static void sweep(devices *ds, int64_t now_ns) {
  ds->next_sweep_ns = now_ns + DEVICES_SWEEP_NS;
  device_store_take_written(&ds->kept, &ds->registry, on_written);
  registry_sweep(&ds->registry, now_ns - DEVICES_FORGET_AFTER_NS);
  registry_shrink(&ds->registry);
  give_back_memory(ds);
}

void devices_store_work(devices *ds, int64_t now_ns) {
  device_store_work(&ds->kept, &ds->registry, now_ns, on_ready);
  if (now_ns >= ds->next_sweep_ns) sweep(ds, now_ns);
}

int64_t devices_store_deadline(const devices *ds) {
  int64_t t = device_store_deadline(&ds->kept);
  return ds->next_sweep_ns < t ? ds->next_sweep_ns : t;
}

void devices_store_flush(devices *ds) { device_store_flush(&ds->kept); }

/* ---- Several workers ---- */

bool devices_release(devices *ds, const char *id, const char *by, store_record *out) {
  device *d = registry_find(&ds->registry, id);
  if (!d || d->foreign) return false;
  /* A device still waiting for its own record has none to give: the new
   * owner asks the store. */
  bool known = !d->loading;
  *out = (store_record){.mode = d->state.mode, .version = d->version};
  if (open_calls(d) > 0) metrics_takeover(); /* by another worker's or replica's connection */
  for (int k = 0; k < METHOD_COUNT; k++) {
    rpc_call *c = call_of(d, (wire_method)k);
    if (!c) continue;
    let_go(d, (wire_method)k);
    char why[192];
    snprintf(why, sizeof why, "device_id %s was taken over by %s", d->id, by);
    rpc_call_abort(c, GRPC_STATUS_ABORTED, why);
  }
  d->loading = false;
  d->foreign = true;
  settle(d); /* its record is the new owner's now: forgotten here */
  return known;
}

void devices_handover_none(devices *ds, const char *id) {
  device *d = registry_find(&ds->registry, id);
  if (!d || !d->loading) return;
  if (device_store_keeps(&ds->kept)) {
    device_store_begin_load(&ds->kept, d, clock_now_ns());
  } else {
    d->loading = false;
    on_ready(d);
  }
}
