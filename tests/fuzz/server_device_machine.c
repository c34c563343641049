/* The server's devices and their state machine (server/devices/: devices.c,
 * device_machine.c, playback.c, the registry and the connection rule of
 * device_link.c) under the real calls (server/calls/), driven through the
 * stand-in gRPC layer by a program the input spells: calls opened by a few
 * clients (connects, and takeovers of a device another client has), button
 * events, sends completing, calls closing and clients dropping
 * (disconnects), half-closes, malformed messages and time passing. The
 * clock is the harness's (clock_now_ns below), so a run is repeatable.
 *
 * After every step:
 *   - every DeviceEvent got exactly one DeviceEventResponse on its call,
 *     and a malformed one ended the call instead;
 *   - on every audio call sounds are framed: is_start on a sound's first
 *     packet only, then that sound's packets in order, is_end on the last
 *     one sent (always on the sound's last packet), nothing outside a sound;
 *   - a device's LEDs, as the last SET on its idle status call says them,
 *     are led_pattern of its state;
 *   - a device plays exactly when it has a sound in progress, only with an
 *     audio call, in a mode that has a sound; every call a device holds is
 *     in its slot, and every device's slot holds a call it owns.
 * At the end time runs on until every sound is over: then every sound
 * started on a stream that is still open has had its is_end. */
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <string.h>

#include "calls/audio_call.h"
#include "calls/event_call.h"
#include "calls/status_call.h"
#include "clock.h"
#include "comms.pb-c.h"
#include "devices/devices.h"
#include "devices/led_pattern.h"
#include "fake_rpc_call.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "log.h"
#include "pb_buffer.h"

#define MODES 3
#define IDS 3
#define MAX_CALLS 48
#define MAX_STEPS 1500
#define LEAD_NS (150 * NS_PER_MS)

static int64_t now_ns;
int64_t clock_now_ns(void) { return now_ns; }

/* Mode k's sound: 1, 3 and 8 packets of 20 ms, each packet's bytes
 * {mode, index} so that the harness can tell which one it sees. */
static const size_t sound_packets[MODES] = {1, 3, 8};
static sound_library library;

static const char *const ids[IDS] = {"dev-a", "dev-b", "dev-c"};

/* Where calls come from: two ports of one host (a device's calls on one
 * connection, or a reconnect), another host, and a proxy naming its
 * client connections (device_link.h). */
static const struct { const char *peer, *via; } clients[] = {
    {"ipv4:10.0.0.1:5001", ""},       {"ipv4:10.0.0.1:5002", ""},
    {"ipv4:10.0.0.2:5001", ""},       {"ipv6:[::1]:6000", "conn-1"},
    {"ipv6:[::1]:6001", "conn-1"},    {"ipv6:[::1]:6002", "conn-2"},
};
#define CLIENTS (sizeof clients / sizeof *clients)

/* What the harness knows of one open call. */
typedef struct tracked {
  rpc_call *c;
  int events, acks;          /* event calls: DeviceEvents in, responses out */
  bool in_sound;             /* audio calls: between is_start and is_end */
  int sound_mode, next_index;
  bool have_set;             /* status calls: the last SET's LEDs */
  uint32_t set[STATUS_CALL_LEDS];
} tracked;

static tracked calls[MAX_CALLS];
static int call_count;
static devices ds;
static rpc_call_list live;

static tracked *track_of(const rpc_call *c) {
  for (int i = 0; i < call_count; i++)
    if (calls[i].c == c) return &calls[i];
  FUZZ_CHECK(!"a call the harness did not open");
  return NULL;
}

static void on_close(rpc_call *c) {
  tracked *t = track_of(c);
  FUZZ_CHECK(t->events == t->acks || c->status_sent);
  *t = calls[--call_count];
}

static void seen_ack(tracked *t, grpc_byte_buffer *message) {
  ProtobufCMessage *m =
      pb_buffer_unpack(&com__opalcamera__test__device_event_response__descriptor, message);
  FUZZ_CHECK(m != NULL);
  protobuf_c_message_free_unpacked(m, NULL);
  t->acks++;
}

static void seen_status_request(tracked *t, grpc_byte_buffer *message) {
  Com__Opalcamera__Test__DeviceStatusRequest *r = (Com__Opalcamera__Test__DeviceStatusRequest *)
      pb_buffer_unpack(&com__opalcamera__test__device_status_request__descriptor, message);
  FUZZ_CHECK(r != NULL);
  if (r->request_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_SET) {
    const Com__Opalcamera__Test__RGBAColor *leds[STATUS_CALL_LEDS] = {
        r->set->led_1, r->set->led_2, r->set->led_3, r->set->led_4, r->set->led_5};
    for (int i = 0; i < STATUS_CALL_LEDS; i++) {
      FUZZ_CHECK(leds[i] != NULL);
      t->set[i] = leds[i]->rgba;
    }
    t->have_set = true;
  } else {
    FUZZ_CHECK(r->request_case == COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET);
  }
  protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void seen_packet(tracked *t, grpc_byte_buffer *message) {
  Com__Opalcamera__Test__AudioPacket *p = (Com__Opalcamera__Test__AudioPacket *)pb_buffer_unpack(
      &com__opalcamera__test__audio_packet__descriptor, message);
  FUZZ_CHECK(p != NULL && p->data.len == 2);
  int mode = p->data.data[0], index = p->data.data[1];
  FUZZ_CHECK(mode < MODES && (size_t)index < sound_packets[mode]);
  FUZZ_CHECK((bool)p->is_start == (index == 0));
  if (p->is_start) {
    FUZZ_CHECK(!t->in_sound); /* the sound before had its is_end */
    t->in_sound = true;
    t->sound_mode = mode;
  } else {
    FUZZ_CHECK(t->in_sound && mode == t->sound_mode && index == t->next_index);
  }
  t->next_index = index + 1;
  if ((size_t)index + 1 == sound_packets[mode]) FUZZ_CHECK(p->is_end);
  if (p->is_end) t->in_sound = false;
  protobuf_c_message_free_unpacked(&p->base, NULL);
}

static void on_send(rpc_call *c, grpc_byte_buffer *message) {
  tracked *t = track_of(c);
  switch (c->method) {
  case METHOD_EVENT: seen_ack(t, message); break;
  case METHOD_STATUS: seen_status_request(t, message); break;
  case METHOD_AUDIO: seen_packet(t, message); break;
  default: FUZZ_CHECK(!"a send on a call of no method");
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  log_set_level(LOG_ERROR);
  fake_rpc_watch_sends(on_send);
  fake_rpc_watch_closes(on_close);
  for (int m = 0; m < MODES; m++) {
    library.sounds[m].name = "fuzz";
    for (size_t i = 0; i < sound_packets[m]; i++) {
      uint8_t bytes[2] = {(uint8_t)m, (uint8_t)i};
      FUZZ_CHECK(sound_append(&library.sounds[m], bytes, sizeof bytes, 960) == 0);
    }
  }
  return 0;
}

/* ---- Picking calls ---- */

typedef bool (*call_test)(const rpc_call *c);

static bool any_call(const rpc_call *c) { return c != NULL; }
static bool is_sending(const rpc_call *c) { return c->sending; }
/* A receive on a call that has ended fails: only live ones get messages. */
static bool is_receiving(const rpc_call *c) { return c->receiving && !c->status_sent; }
static bool event_receiving(const rpc_call *c) {
  return c->method == METHOD_EVENT && is_receiving(c);
}
static bool status_receiving(const rpc_call *c) {
  return c->method == METHOD_STATUS && is_receiving(c);
}

/* The n-th open call that passes `test` (n wraps), or NULL if none does. */
static rpc_call *pick(uint8_t n, call_test test) {
  int matching = 0;
  for (rpc_call *c = live.head; c; c = c->next) matching += test(c);
  if (matching == 0) return NULL;
  int want = n % matching;
  for (rpc_call *c = live.head; c; c = c->next)
    if (test(c) && want-- == 0) return c;
  return NULL;
}

/* ---- The steps ---- */

static void open_call(fuzz_input *in) {
  const char *id = ids[fuzz_byte(in) % IDS];
  wire_method kind = (wire_method)(fuzz_byte(in) % METHOD_COUNT);
  unsigned client = fuzz_byte(in) % CLIENTS;
  if (call_count == MAX_CALLS) return;
  char why[300];
  device *d = devices_get(&ds, id, clients[client].peer, why, sizeof why);
  if (!d) return; /* no room: the server refuses the call */
  fake_rpc_set_peer(clients[client].peer);
  rpc_call *c;
  if (kind == METHOD_STATUS) {
    status_call *sc = status_call_start(&live, NULL);
    c = status_call_rpc(sc);
    calls[call_count++] = (tracked){.c = c};
    devices_attach_status(d, sc, clients[client].via);
  } else if (kind == METHOD_EVENT) {
    event_call *ec = event_call_start(&live, NULL);
    c = event_call_rpc(ec);
    calls[call_count++] = (tracked){.c = c};
    devices_attach_event(d, ec, clients[client].via);
  } else {
    audio_call *ac = audio_call_start(&live, NULL, 20, false);
    c = audio_call_rpc(ac);
    calls[call_count++] = (tracked){.c = c};
    devices_attach_audio(d, ac, clients[client].via);
  }
  FUZZ_CHECK(c->owner == d); /* the newest call always gets the device */
}

/* A button event, with values in and out of the wire's ranges. */
static void send_event(fuzz_input *in) {
  rpc_call *c = pick(fuzz_byte(in), event_receiving);
  int button = fuzz_byte(in) % (BUTTON_COUNT + 2) - 1;
  int event = fuzz_byte(in) % (EVENT_COUNT + 2) - 1;
  if (!c) return;
  Com__Opalcamera__Test__ButtonEvent be = COM__OPALCAMERA__TEST__BUTTON_EVENT__INIT;
  be.button_id = (Com__Opalcamera__Test__ButtonEvent__ButtonId)button;
  be.event = (Com__Opalcamera__Test__ButtonEvent__ButtonEventType)event;
  Com__Opalcamera__Test__DeviceEvent ev = COM__OPALCAMERA__TEST__DEVICE_EVENT__INIT;
  ev.event_case = COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT;
  ev.button_event = &be;
  uint8_t bytes[64];
  size_t len = protobuf_c_message_pack(&ev.base, bytes);
  tracked *t = track_of(c);
  int acks = t->acks;
  t->events++;
  FUZZ_CHECK(fake_rpc_deliver(c, bytes, len));
  FUZZ_CHECK(t->acks == acks + 1 && !c->receiving);
}

/* Bytes no message parses as (field 31 with wire type 7), or the end of
 * the client's stream: either ends the call. */
static void break_stream(fuzz_input *in) {
  rpc_call *c = pick(fuzz_byte(in), is_receiving);
  bool half_close = fuzz_byte(in) & 1;
  if (!c) return;
  static const uint8_t garbage[] = {0xff};
  tracked *t = track_of(c);
  int acks = t->acks;
  if (c->method == METHOD_EVENT && !half_close) t->events++;
  FUZZ_CHECK(fake_rpc_deliver(c, half_close ? NULL : garbage, sizeof garbage));
  FUZZ_CHECK(fake_rpc_status(c) == (half_close ? GRPC_STATUS_OK : GRPC_STATUS_INVALID_ARGUMENT));
  if (c->method == METHOD_EVENT && !half_close) {
    FUZZ_CHECK(t->acks == acks);
    t->events--; /* answered by the call's end instead */
  }
}

static void answer_status(fuzz_input *in) {
  rpc_call *c = pick(fuzz_byte(in), status_receiving);
  if (!c) return;
  Com__Opalcamera__Test__DeviceStatusResponse r = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__INIT;
  r.response_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATUS;
  r.status = "success";
  uint8_t bytes[32];
  size_t len = protobuf_c_message_pack(&r.base, bytes);
  FUZZ_CHECK(fake_rpc_deliver(c, bytes, len));
  FUZZ_CHECK(fake_rpc_status(c) == -1 && c->receiving);
}

static void complete_send(fuzz_input *in) {
  rpc_call *c = pick(fuzz_byte(in), is_sending);
  if (c) FUZZ_CHECK(fake_rpc_complete_send(c, true));
}

static void close_call(fuzz_input *in) {
  rpc_call *c = pick(fuzz_byte(in), any_call);
  if (c) fake_rpc_close(c);
}

/* A client's connection drops: every call with its peer closes. */
static void drop_client(fuzz_input *in) {
  const char *peer = clients[fuzz_byte(in) % CLIENTS].peer;
  rpc_call *c = live.head;
  while (c) {
    if (strcmp(c->peer, peer) == 0) {
      fake_rpc_close(c);
      c = live.head; /* a close may end others: start over */
    } else {
      c = c->next;
    }
  }
}

static void time_passes(fuzz_input *in) {
  now_ns += (fuzz_byte(in) + 1) * 5 * NS_PER_MS;
  devices_tick(&ds);
}

static void step(fuzz_input *in) {
  switch (fuzz_byte(in) % 9) {
  case 0: open_call(in); break;
  case 1: send_event(in); break;
  case 2: complete_send(in); break;
  case 3: close_call(in); break;
  case 4: time_passes(in); break;
  case 5: break_stream(in); break;
  case 6: fake_rpc_close_finished(&live); break;
  case 7: answer_status(in); break;
  default: drop_client(in); break;
  }
}

/* ---- The invariants ---- */

static void check_slot(const device *d, rpc_call *c, wire_method kind) {
  if (!c) return;
  FUZZ_CHECK(c->owner == d && c->method == kind && !c->closed);
}

static void check_leds(const device *d) {
  if (!d->status) return;
  rpc_call *c = status_call_rpc(d->status);
  /* Idle and live: nothing is owed, so the last SET is what it shows. */
  if (!rpc_call_can_send(c)) return;
  const tracked *t = track_of(c);
  FUZZ_CHECK(t->have_set);
  uint32_t want[LED_PATTERN_COUNT];
  led_pattern(d->state.mode, d->state.playing, want);
  FUZZ_CHECK(memcmp(t->set, want, sizeof want) == 0);
}

static void check_device(const device *d) {
  FUZZ_CHECK(d->state.mode < library.mode_count);
  FUZZ_CHECK(d->state.playing == (d->playback.current.sound != NULL));
  if (d->state.playing) FUZZ_CHECK(d->audio != NULL);
  check_slot(d, d->status ? status_call_rpc(d->status) : NULL, METHOD_STATUS);
  check_slot(d, d->event ? event_call_rpc(d->event) : NULL, METHOD_EVENT);
  check_slot(d, d->audio ? audio_call_rpc(d->audio) : NULL, METHOD_AUDIO);
  check_leds(d);
}

static bool in_slot(const device *d, const rpc_call *c) {
  switch (c->method) {
  case METHOD_STATUS: return d->status && status_call_rpc(d->status) == c;
  case METHOD_EVENT: return d->event && event_call_rpc(d->event) == c;
  case METHOD_AUDIO: return d->audio && audio_call_rpc(d->audio) == c;
  default: return false;
  }
}

static void check_all(void) {
  for (int i = 0; i < IDS; i++) {
    const device *d = registry_find(&ds.registry, ids[i]);
    if (d) check_device(d);
  }
  for (rpc_call *c = live.head; c; c = c->next)
    if (c->owner) FUZZ_CHECK(in_slot(c->owner, c));
}

/* Time runs on and every send completes until nothing plays. */
static void run_out(void) {
  for (int round = 0; round < 64; round++) {
    rpc_call *c;
    while ((c = pick(0, is_sending))) FUZZ_CHECK(fake_rpc_complete_send(c, true));
    if (!devices_playing(&ds)) break;
    now_ns += 100 * NS_PER_MS;
    devices_tick(&ds);
  }
  FUZZ_CHECK(!devices_playing(&ds));
  for (int i = 0; i < call_count; i++) {
    const rpc_call *c = calls[i].c;
    if (c->method == METHOD_AUDIO && !c->status_sent) FUZZ_CHECK(!calls[i].in_sound);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = {data, size, 0};
  library.mode_count = 1 + fuzz_byte(&in) % MODES;
  devices_init(&ds, &library, LEAD_NS, fuzz_byte(&in) % 4, NULL, NULL); /* no rate for new ids */
  now_ns = NS_PER_SEC;
  call_count = 0;
  for (int steps = 0; fuzz_more(&in) && steps < MAX_STEPS; steps++) {
    step(&in);
    check_all();
  }
  run_out();
  check_all();
  fake_rpc_close_all(&live);
  FUZZ_CHECK(call_count == 0);
  devices_clear(&ds);
  return 0;
}
