#include "devices/device.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "devices/playback.h"
#include "server.h"
#include "calls/status_call.h"

static size_t open_calls(const device *d) {
  size_t n = 0;
  for (int k = 0; k < CALL_KIND_COUNT; k++) n += d->calls[k] != NULL;
  return n;
}

/* Lets go of `c`. Losing the audio call also ends the sound in progress
 * (nothing can hear it), which changes the state and the LEDs. */
static void let_go(device *d, rpc_call *c) {
  if (d->calls[c->kind] != c) return;
  d->calls[c->kind] = NULL;
  c->device = NULL;
  if (c->kind == CALL_AUDIO) playback_abandon(d, "audio stream closed");
}

/* True when `old` must give way to the new call `c`. */
static bool superseded(const rpc_call *old, const rpc_call *c) {
  return old->kind == c->kind || strcmp(old->peer, c->peer) != 0;
}

void device_attach(device *d, rpc_call *c) {
  d->server = c->server;
  size_t before = open_calls(d);
  bool taken_over = false;
  for (int k = 0; k < CALL_KIND_COUNT; k++) {
    rpc_call *old = d->calls[k];
    if (!old || !superseded(old, c)) continue;
    let_go(d, old);
    char why[192];
    snprintf(why, sizeof why, "device_id %s was taken over by a new connection (%s)",
             d->id, c->peer);
    rpc_call_abort(old, GRPC_STATUS_ABORTED, why);
    taken_over = true;
  }
  d->calls[c->kind] = c;
  c->device = d;
  registry_online(&c->server->devices, d);
  if (before == 0)
    log_info("connect device=%s peer=%s mode=%u", d->id, c->peer, d->state.mode);
  else if (taken_over)
    log_info("takeover device=%s peer=%s mode=%u", d->id, c->peer, d->state.mode);
}

void device_detach(device *d, rpc_call *c) {
  if (d->calls[c->kind] != c) return;
  let_go(d, c);
  if (open_calls(d) == 0) {
    log_info("disconnect device=%s mode=%u", d->id, d->state.mode);
    registry_offline(&d->server->devices, d);
  }
}

void device_apply(device *d, unsigned effects, const char *reason) {
  if (effects & EFFECT_LEDS) status_call_leds_changed(d);
  if (effects & EFFECT_END_SOUND) playback_end(d, reason);
  if (effects & EFFECT_START_SOUND) playback_start(d);
}
