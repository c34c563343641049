/* The fleet's loop and its devices: set-up, the ramp, each device's
 * connection handler and behaviour (a script or the mix, fleet_mix.c), and
 * the figures the summaries show (written by fleet_report.c). */
#include "fleet/fleet.h"

#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "cq_loop.h"
#include "fleet/fleet_mix.h"
#include "fleet/fleet_report.h"
#include "fleet/fleet_stats.h"
#include "log.h"
#include "net/connection.h"
#include "script/script_exec.h"

/* Each device needs one socket; the loop, gRPC and stdio a few more. */
#define FDS_PER_DEVICE 1
#define SPARE_FDS 64
#define TICK_NS (5 * NS_PER_MS)
#define FLEET_MAX_PACKET_SAMPLES 5760 /* 120 ms at 48 kHz, Opus's longest packet */

typedef struct fleet fleet;

typedef struct fleet_device {
  fleet *fleet;
  char id[80];
  device_conn *conn;
  bool started, ever_connected;
  uint32_t leds[LED_COUNT];
  /* Behaviour: a script, or the random mix. */
  script_exec exec;
  bool script_counted;  /* its end is in fleet->scripts_ended */
  int64_t next_step_ns; /* of the script */
  fleet_mix mix;
  /* The sound being received. */
  bool in_stream;
  int64_t first_packet_ns;
  uint64_t position; /* samples received in this stream */
  int last_samples;  /* the stream's last good packet, in samples */
  int64_t play_pressed_ns, stop_pressed_ns;
  OpusDecoder *decoder;
} fleet_device;

struct fleet {
  const fleet_config *config;
  grpc_completion_queue *cq;
  fleet_device *devices;
  unsigned started;
  unsigned scripts_ended; /* kept as a count: the loop asks after every event */
  int64_t start_ns, ramp_done_ns, end_ns, next_progress_ns;
  latency_samples first_packet, stop_to_end, ack;
  fleet_tally tally;
};

/* ---- what a device's connection says ---- */

static void observe(fleet_device *d, device_watch w) {
  if (!d->fleet->config->script) return;
  script_exec_notify(&d->exec, w);
  d->next_step_ns = 0; /* a wait-for may be over: step at the next tick */
}

/* The sound is over. A Play pressed meanwhile (preemption) still waits
 * for its own is_start, so only the Stop is forgotten. */
static void end_stream(fleet_device *d) {
  d->in_stream = false;
  d->stop_pressed_ns = 0;
}

static void on_state(void *ctx, conn_state state, const conn_loss *loss) {
  fleet_device *d = ctx;
  if (state == CONN_CONNECTED) {
    d->ever_connected = true;
    d->leds[0] = POWER_LED_ON;
    observe(d, WATCH_CONNECTED);
  } else if (state == CONN_WAITING || state == CONN_OFFLINE) {
    /* Losses of the fleet's own making (a script's disconnect) are no error. */
    if (loss && loss->status != CONN_NO_STATUS)
      d->fleet->tally.errors[fleet_error_slot(loss->status, loss->reason)]++;
    end_stream(d);
    d->play_pressed_ns = 0; /* no sound will answer it on this connection */
    memset(d->leds, 0, sizeof d->leds);
    observe(d, WATCH_DISCONNECTED);
  }
}

static void on_leds(void *ctx, const uint32_t leds[LED_COUNT]) {
  fleet_device *d = ctx;
  memcpy(d->leds + 1, leds + 1, sizeof d->leds - sizeof d->leds[0]);
  observe(d, WATCH_LEDS);
}

static void on_status_wanted(void *ctx, uint32_t leds[LED_COUNT], bool pressed[BUTTON_COUNT]) {
  fleet_device *d = ctx;
  memcpy(leds, d->leds, sizeof d->leds);
  memset(pressed, 0, BUTTON_COUNT * sizeof *pressed); /* presses are instants here */
}

static void on_ack(void *ctx, int button, int event, bool ack, int64_t sent_ns) {
  (void)button, (void)event, (void)ack;
  fleet_device *d = ctx;
  latency_add(&d->fleet->ack, (double)(clock_now_ns() - sent_ns) / 1e6);
  observe(d, WATCH_ACK);
}

static void begin_stream(fleet_device *d, int64_t now) {
  fleet *f = d->fleet;
  f->tally.streams_started++;
  d->in_stream = true;
  d->first_packet_ns = now;
  d->position = 0;
  d->last_samples = 0;
  if (d->play_pressed_ns) latency_add(&f->first_packet, (double)(now - d->play_pressed_ns) / 1e6);
  d->play_pressed_ns = 0;
  if (d->decoder) opus_decoder_ctl(d->decoder, OPUS_RESET_STATE);
  observe(d, WATCH_STREAM_START);
}

/* Checks one packet: counted, timed against its place in real time, and
 * decoded with --decode. Its place is the sum of the real durations of the
 * packets before it (20 to 120 ms each, as the server sends them). */
static void check_packet(fleet_device *d, const uint8_t *data, size_t len, int64_t now) {
  fleet *f = d->fleet;
  f->tally.packets++;
  f->tally.bytes += len;
  if (packet_is_late(now, d->first_packet_ns, d->position,
                     (int64_t)f->config->late_ms * NS_PER_MS))
    f->tally.late++;
  int samples = len ? opus_packet_get_nb_samples(data, (opus_int32)len, WIRE_SAMPLE_RATE) : 0;
  if (d->decoder) {
    static opus_int16 pcm[FLEET_MAX_PACKET_SAMPLES];
    samples = opus_decode(d->decoder, data, (opus_int32)len, pcm, FLEET_MAX_PACKET_SAMPLES, 0);
  }
  if (samples <= 0) {
    f->tally.decode_errors++;
    /* No duration to read: the stream's packets are alike, so take the last. */
    samples = d->last_samples ? d->last_samples : 960;
  }
  d->last_samples = samples;
  f->tally.samples += (uint64_t)samples;
  d->position += (uint64_t)samples;
}

static void on_audio(void *ctx, const uint8_t *data, size_t len, bool is_start, bool is_end) {
  fleet_device *d = ctx;
  fleet *f = d->fleet;
  int64_t now = clock_now_ns();
  if (is_start) begin_stream(d, now);
  if (!d->in_stream) return; /* no is_start: nothing to time it against */
  check_packet(d, data, len, now);
  if (is_end) {
    f->tally.streams_ended++;
    if (d->stop_pressed_ns) latency_add(&f->stop_to_end, (double)(now - d->stop_pressed_ns) / 1e6);
    end_stream(d);
    observe(d, WATCH_STREAM_END);
  }
}

static const conn_handler handler = {
    .state_changed = on_state,
    .leds_set = on_leds,
    .status_wanted = on_status_wanted,
    .acked = on_ack,
    .audio = on_audio,
};

/* ---- behaviour ---- */

static void press(fleet_device *d, int button, int event, int64_t now) {
  if (!conn_send_event(d->conn, button, event, now)) return;
  if (button == BUTTON_PLAY && event == EVENT_PRESS) d->play_pressed_ns = now;
  if (button == BUTTON_STOP && event == EVENT_PRESS && d->in_stream) d->stop_pressed_ns = now;
}

static void press_for_mix(void *ctx, int button, int64_t now) {
  press(ctx, button, EVENT_PRESS, now);
}

static void script_act(void *ctx, const script_command *c) {
  fleet_device *d = ctx;
  input_kind kind = c->op == SCRIPT_CONNECT      ? INPUT_CONNECT
                    : c->op == SCRIPT_DISCONNECT ? INPUT_DISCONNECT
                                                 : INPUT_BUTTON;
  /* A Connect press switches the connection, as on a single device; its
   * hold and release, which a single device drops, go to the server like
   * any button's (as they always have here). */
  if (kind == INPUT_BUTTON && c->button == BUTTON_CONNECT && c->event == EVENT_PRESS)
    kind = connect_press_input(conn_wanted(d->conn));
  if (kind == INPUT_CONNECT) conn_open(d->conn);
  else if (kind == INPUT_DISCONNECT) conn_close(d->conn);
  else press(d, c->button, c->event, clock_now_ns());
}

static void behave(fleet_device *d, int64_t now) {
  if (d->fleet->config->script) {
    if (!d->exec.done && now >= d->next_step_ns)
      d->next_step_ns = script_exec_step(&d->exec, now, script_act, d);
    if (d->exec.done && !d->script_counted) {
      d->script_counted = true;
      d->fleet->scripts_ended++;
    }
  } else if (conn_get_state(d->conn) == CONN_CONNECTED) {
    fleet_mix_step(&d->mix, &d->fleet->config->mix, now, press_for_mix, d);
  }
}

/* ---- summaries ---- */

static void count_devices(const fleet *f, fleet_figures *g) {
  for (unsigned i = 0; i < f->started; i++) {
    const fleet_device *d = &f->devices[i];
    g->connected += conn_get_state(d->conn) == CONN_CONNECTED;
    g->failed += !d->ever_connected;
    g->reconnects += conn_reconnects(d->conn);
    g->script_timeouts += d->exec.timed_out != NULL;
  }
}

static void print_summary(const fleet *f, bool final) {
  fleet_figures g = {
      .final = final,
      .elapsed_s = (double)(clock_now_ns() - f->start_ns) / 1e9,
      .ramp_s = f->ramp_done_ns ? (double)(f->ramp_done_ns - f->start_ns) / 1e9 : -1,
      .devices = f->config->count,
      .first_packet = latency_summarise(&f->first_packet),
      .stop_to_end = latency_summarise(&f->stop_to_end),
      .ack = latency_summarise(&f->ack),
      .tally = f->tally,
      .audio_s = (double)f->tally.samples / WIRE_SAMPLE_RATE,
  };
  count_devices(f, &g);
  fleet_report_write(&g, f->config->json, stdout);
}

/* ---- set-up and the loop ---- */

/* Raises the open-file limit toward what N devices need; says what it got. */
static void raise_fd_limit(unsigned count) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = (rlim_t)count * FDS_PER_DEVICE + SPARE_FDS;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want)
    log_warn("fleet: open-file limit %llu (hard) is below the %llu that %u devices need; "
             "expect failed connections (raise it with ulimit -n)",
             (unsigned long long)rl.rlim_cur, (unsigned long long)want, count);
}

static int make_devices(fleet *f) {
  const fleet_config *c = f->config;
  f->devices = calloc(c->count, sizeof *f->devices);
  if (!f->devices) return -1;
  for (unsigned i = 0; i < c->count; i++) {
    fleet_device *d = &f->devices[i];
    d->fleet = f;
    snprintf(d->id, sizeof d->id, "%s-%u", c->id_prefix, i);
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (i + 1) ^ (uint64_t)clock_now_ns();
    fleet_mix_init(&d->mix, seed);
    conn_config cc = {.target = c->server, .device_id = d->id,
                      .security = {.creds = device_creds_get(c->creds, i),
                                   .client_cert = device_creds_client_cert(c->creds),
                                   .server_name = c->tls_server_name},
                      .backoff_base_ms = CONN_BACKOFF_BASE_MS,
                      .backoff_cap_ms = CONN_BACKOFF_CAP_MS, .seed = seed,
                      .packet_ms = c->packet_ms};
    d->conn = conn_create(f->cq, &cc, &handler, d);
    if (!d->conn) return -1;
    if (c->script) script_exec_init(&d->exec, c->script);
    if (c->decode) {
      int err;
      d->decoder = opus_decoder_create(WIRE_SAMPLE_RATE, 1, &err);
      if (!d->decoder) return -1;
    }
  }
  return 0;
}

/* Starts the devices the ramp allows by now. */
static void ramp(fleet *f, int64_t now) {
  const fleet_config *c = f->config;
  double allowed = c->ramp_per_s * (double)(now - f->start_ns) / 1e9 + 1;
  while (f->started < c->count && f->started < allowed) {
    fleet_device *d = &f->devices[f->started++];
    d->started = true;
    /* A script connects when it says so; the mix connects at once. */
    if (!c->script) conn_open(d->conn);
  }
  if (f->started == c->count && !f->ramp_done_ns) {
    f->ramp_done_ns = now;
    f->end_ns = now + (int64_t)(c->duration_s * 1e9);
  }
}

static bool scripts_done(const fleet *f) {
  return f->config->script && f->scripts_ended == f->config->count;
}

static void tick(fleet *f, int64_t now) {
  ramp(f, now);
  for (unsigned i = 0; i < f->started; i++) {
    conn_tick(f->devices[i].conn, now);
    behave(&f->devices[i], now);
  }
  if (f->config->progress_s > 0 && now >= f->next_progress_ns) {
    if (f->next_progress_ns) print_summary(f, false);
    f->next_progress_ns = now + (int64_t)(f->config->progress_s * 1e9);
  }
}

static bool any_busy(const fleet *f) {
  for (unsigned i = 0; i < f->started; i++)
    if (conn_busy(f->devices[i].conn)) return true;
  return false;
}

static void run(fleet *f, volatile sig_atomic_t *stop) {
  int64_t next_tick = f->start_ns;
  while (!*stop) {
    int64_t now = clock_now_ns();
    if (now >= next_tick) {
      tick(f, now);
      next_tick = now + TICK_NS;
    }
    if (f->ramp_done_ns && (now >= f->end_ns || scripts_done(f))) break;
    cq_loop_run_one(f->cq, next_tick);
  }
  print_summary(f, true);
  for (unsigned i = 0; i < f->started; i++) conn_close(f->devices[i].conn);
  while (any_busy(f)) cq_loop_run_one(f->cq, clock_now_ns() + 100 * NS_PER_MS);
}

static void teardown(fleet *f) {
  for (unsigned i = 0; f->devices && i < f->config->count; i++) {
    conn_destroy(f->devices[i].conn);
    if (f->devices[i].decoder) opus_decoder_destroy(f->devices[i].decoder);
  }
  free(f->devices);
  cq_loop_destroy(f->cq);
  latency_free(&f->first_packet);
  latency_free(&f->stop_to_end);
  latency_free(&f->ack);
}

int fleet_run(const fleet_config *config, volatile sig_atomic_t *stop) {
  fleet f = {.config = config};
  raise_fd_limit(config->count);
  f.cq = grpc_completion_queue_create_for_next(NULL);
  int rc = 0;
  if (make_devices(&f) != 0) {
    fprintf(stderr, "opal-device: --fleet %u: out of memory\n", config->count);
    rc = 2;
  } else {
    log_info("fleet: %u devices %s-0..%u against %s", config->count, config->id_prefix,
             config->count - 1, config->server);
    f.start_ns = clock_now_ns();
    run(&f, stop);
  }
  teardown(&f);
  return rc;
}
