#include "app/device_app.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cq_loop.h"
#include "log.h"
#include "loop_wakeup.h"
#include "packet_digest.h"

#define VIEW_PERIOD_NS (100 * NS_PER_MS)
#define INPUT_QUEUE_LEN 64


typedef struct app {
  const device_app_config *config;
  hw_backend *hw;
  audio_player *audio;
  reporter *rep;
  device_conn *conn;
  bool quitting;

  /* Input from the back end's thread. */
  input_sink sink;
  pthread_mutex_t input_lock;
  device_input inputs[INPUT_QUEUE_LEN];
  size_t input_head, input_count;
  loop_wakeup *wakeup;
  loop_op wakeup_op;

  uint32_t leds[LED_COUNT];
  /* The sound being received. */
  bool in_stream;
  packet_digest stream;
  int stream_max_samples;  /* the longest packet of the sound, in samples */
  int64_t play_pressed_ns; /* a Play press not yet answered by a sound */
  int64_t stream_pressed_ns;
  int64_t stop_pressed_ns; /* a Stop press during a sound, until it has gone silent */
  bool first_sample_reported;
  double last_latency_ms;
  unsigned underruns_reported;
  int64_t next_view_ns;
} app;

/* Tells the back end what was just reported; most back ends do not ask. */
static void observe(app *a, device_watch what) {
  if (a->hw->ops->observe) a->hw->ops->observe(a->hw, what);
}

static void show_leds(app *a) { a->hw->ops->show_leds(a->hw, a->leds); }

static void report_leds(app *a) {
  char list[LED_COUNT * sizeof "\"rrggbbaa\","];
  size_t n = 0;
  for (int i = 0; i < LED_COUNT; i++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s\"%08x\"", i ? "," : "", a->leds[i]);
  report(a->rep, "leds", "\"leds\":[%s]", list);
  observe(a, WATCH_LEDS);
}

static void set_leds(app *a, const uint32_t leds[LED_COUNT]) {
  if (memcmp(a->leds, leds, sizeof a->leds) == 0) return;
  memcpy(a->leds, leds, sizeof a->leds);
  show_leds(a);
  report_leds(a);
}

/* ---- stream bookkeeping ---- */

static void end_stream(app *a, bool complete) {
  if (!a->in_stream) return;
  a->in_stream = false;
  audio_player_end(a->audio);
  char digest[PACKET_DIGEST_HEX_LEN];
  packet_digest_hex(&a->stream, digest);
  report(a->rep, "stream_end",
         "\"packets\":%llu,\"bytes\":%llu,\"digest\":\"%s\",\"complete\":%s,\"max_packet_ms\":%d",
         (unsigned long long)a->stream.packets, (unsigned long long)a->stream.bytes, digest,
         complete ? "true" : "false", a->stream_max_samples / (WIRE_SAMPLE_RATE / 1000));
  observe(a, WATCH_STREAM_END);
}

static void begin_stream(app *a) {
  end_stream(a, false); /* a sound that never got its is_end */
  a->in_stream = true;
  packet_digest_init(&a->stream);
  a->stream_max_samples = 0;
  a->stop_pressed_ns = 0; /* the sound it stopped was cut by this one */
  audio_player_begin(a->audio);
  a->stream_pressed_ns = a->play_pressed_ns;
  a->play_pressed_ns = 0;
  a->first_sample_reported = false;
  if (a->stream_pressed_ns)
    report(a->rep, "stream_start", "\"press_to_first_packet_ms\":%.2f",
           (double)(clock_now_ns() - a->stream_pressed_ns) / 1e6);
  else
    report(a->rep, "stream_start", NULL);
  observe(a, WATCH_STREAM_START);
}

/* ---- what the connection says ---- */

static void on_state(void *ctx, conn_state state, const conn_loss *loss) {
  app *a = ctx;
  uint32_t leds[LED_COUNT] = {0};
  if (state == CONN_CONNECTED) {
    memcpy(leds, a->leds, sizeof leds);
    leds[0] = POWER_LED_ON;
    report(a->rep, "connected", "\"reconnects\":%u", conn_reconnects(a->conn));
    log_info("connected to %s as %s", a->config->conn.target, a->config->conn.device_id);
    observe(a, WATCH_CONNECTED);
  } else if (state == CONN_CONNECTING) {
    report(a->rep, "connecting", NULL);
    return;
  } else {
    /* Offline, the server's LEDs mean nothing any more: all dark. */
    char reason[300];
    report_quote(loss ? loss->why : "closed", reason, sizeof reason);
    report(a->rep, "disconnected", "\"reason\":%s,\"retrying\":%s", reason,
           state == CONN_WAITING ? "true" : "false");
    end_stream(a, false);
    observe(a, WATCH_DISCONNECTED);
  }
  set_leds(a, leds);
}

static void on_leds(void *ctx, const uint32_t given[LED_COUNT]) {
  app *a = ctx;
  uint32_t leds[LED_COUNT];
  memcpy(leds, given, sizeof leds);
  leds[0] = a->leds[0]; /* led_0 is ours */
  set_leds(a, leds);
}

static void on_status_wanted(void *ctx, uint32_t leds[LED_COUNT], bool pressed[BUTTON_COUNT]) {
  app *a = ctx;
  memcpy(leds, a->leds, sizeof a->leds);
  a->hw->ops->read_buttons(a->hw, pressed);
}

static void on_ack(void *ctx, int button, int event, bool ack, int64_t sent_ns) {
  app *a = ctx;
  report(a->rep, "ack", "\"button\":\"%s\",\"type\":\"%s\",\"ack\":%s,\"ms\":%.2f",
         wire_button_word(button), wire_event_word(event), ack ? "true" : "false",
         (double)(clock_now_ns() - sent_ns) / 1e6);
  observe(a, WATCH_ACK);
}

static void on_audio(void *ctx, const uint8_t *data, size_t len, bool is_start, bool is_end) {
  app *a = ctx;
  if (is_start) begin_stream(a);
  if (!a->in_stream) {
    log_warn("audio: a packet outside any sound (no is_start) was dropped");
    return;
  }
  packet_digest_add(&a->stream, data, len);
  int rc = audio_player_packet(a->audio, data, len);
  if (rc > a->stream_max_samples) a->stream_max_samples = rc;
  if (rc < 0) report(a->rep, "decode_error", "\"packet\":%llu,\"error\":%d",
                     (unsigned long long)a->stream.packets, rc);
  if (is_end) end_stream(a, true);
}

static void on_packets_granted(void *ctx, unsigned packet_ms) {
  app *a = ctx;
  report(a->rep, "packet_size", "\"asked_ms\":%u,\"granted_ms\":%u", a->config->conn.packet_ms,
         packet_ms);
}

static const conn_handler handler = {
    .state_changed = on_state,
    .leds_set = on_leds,
    .status_wanted = on_status_wanted,
    .acked = on_ack,
    .audio = on_audio,
    .packets_granted = on_packets_granted,
};

/* ---- input from the back end ---- */

static void push_input(input_sink *sink, const device_input *in) {
  app *a = container_of(sink, app, sink);
  pthread_mutex_lock(&a->input_lock);
  if (a->input_count < INPUT_QUEUE_LEN) {
    a->inputs[(a->input_head + a->input_count) % INPUT_QUEUE_LEN] = *in;
    a->input_count++;
  }
  pthread_mutex_unlock(&a->input_lock);
  loop_wakeup_post(a->wakeup);
}

static void quit(app *a) {
  a->quitting = true;
  conn_close(a->conn);
}

/* INPUT_CONNECT or INPUT_DISCONNECT. */
static void switch_connection(app *a, input_kind kind) {
  if (kind == INPUT_CONNECT) conn_open(a->conn);
  else conn_close(a->conn);
}

static void handle_button(app *a, const device_input *in) {
  if (in->button == BUTTON_CONNECT) {
    /* Connect is the device's own: its hold and release mean nothing. */
    if (in->event == EVENT_PRESS)
      switch_connection(a, connect_press_input(conn_wanted(a->conn)));
    return;
  }
  if (!conn_send_event(a->conn, in->button, in->event, in->at_ns)) {
    report(a->rep, "dropped", "\"button\":\"%s\",\"type\":\"%s\",\"reason\":\"not connected\"",
           wire_button_word(in->button), wire_event_word(in->event));
    return;
  }
  if (in->button == BUTTON_PLAY && in->event == EVENT_PRESS) a->play_pressed_ns = in->at_ns;
  if (in->button == BUTTON_STOP && in->event == EVENT_PRESS && a->in_stream)
    a->stop_pressed_ns = in->at_ns;
}

static void handle_input(app *a, const device_input *in) {
  switch (in->kind) {
  case INPUT_BUTTON:
    if (in->button >= 0 && in->button < BUTTON_COUNT && in->event >= EVENT_PRESS &&
        in->event <= EVENT_RELEASE)
      handle_button(a, in);
    break;
  case INPUT_CONNECT:
  case INPUT_DISCONNECT:
    switch_connection(a, in->kind);
    break;
  case INPUT_QUIT:
    quit(a);
    break;
  }
}

static void on_wakeup(loop_op *op, bool ok) {
  (void)ok;
  app *a = container_of(op, app, wakeup_op);
  loop_wakeup_done(a->wakeup);
  for (;;) {
    pthread_mutex_lock(&a->input_lock);
    bool have = a->input_count > 0;
    device_input in;
    if (have) {
      in = a->inputs[a->input_head];
      a->input_head = (a->input_head + 1) % INPUT_QUEUE_LEN;
      a->input_count--;
    }
    pthread_mutex_unlock(&a->input_lock);
    if (!have) break;
    if (!a->quitting) handle_input(a, &in);
  }
}

/* ---- periodic: audio figures and the status view ---- */

static void poll_audio(app *a, audio_stats *st) {
  audio_player_stats(a->audio, st);
  if (a->stream_pressed_ns && !a->first_sample_reported && st->first_sample_ns) {
    a->first_sample_reported = true;
    a->last_latency_ms = (double)(st->first_sample_ns - a->stream_pressed_ns) / 1e6;
    report(a->rep, "first_sample", "\"press_to_first_sample_ms\":%.2f", a->last_latency_ms);
  }
  if (a->stop_pressed_ns && !st->playing && st->silent_ns) {
    /* What a listener hears after Stop: the audio already buffered. */
    report(a->rep, "silence", "\"stop_to_silence_ms\":%.2f",
           (double)(st->silent_ns - a->stop_pressed_ns) / 1e6);
    a->stop_pressed_ns = 0;
  }
  if (st->underruns > a->underruns_reported) {
    a->underruns_reported = st->underruns;
    report(a->rep, "underrun", "\"total\":%u", st->underruns);
  }
}

static void refresh(app *a) {
  audio_stats st;
  poll_audio(a, &st);
  if (!a->hw->ops->show_view) return;
  device_view view = {
      .device_id = a->config->conn.device_id,
      .server = a->config->conn.target,
      .connection = conn_state_name(conn_get_state(a->conn)),
      .playing = st.playing,
      .buffered_ms = st.buffered_ms,
      .last_latency_ms = a->last_latency_ms,
      .underruns = st.underruns,
      .reconnects = conn_reconnects(a->conn),
  };
  a->hw->ops->show_view(a->hw, &view);
}

static void run_loop(app *a, grpc_completion_queue *cq, volatile sig_atomic_t *stop) {
  while (!(a->quitting && !conn_busy(a->conn))) {
    int64_t deadline = conn_next_deadline_ns(a->conn);
    if (deadline > a->next_view_ns) deadline = a->next_view_ns;
    cq_loop_run_one(cq, deadline);
    if (*stop && !a->quitting) quit(a);
    int64_t now = clock_now_ns();
    conn_tick(a->conn, now);
    if (now >= a->next_view_ns) {
      refresh(a);
      a->next_view_ns = now + VIEW_PERIOD_NS;
    }
  }
}

int device_app_run(const device_app_config *config, hw_backend *hw, audio_player *audio,
                   reporter *rep, volatile sig_atomic_t *stop) {
  app a = {.config = config, .hw = hw, .audio = audio, .rep = rep, .last_latency_ms = -1};
  a.sink.push = push_input;
  a.wakeup_op.fn = on_wakeup;
  pthread_mutex_init(&a.input_lock, NULL);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  a.wakeup = loop_wakeup_create(cq, &a.wakeup_op);
  a.conn = conn_create(cq, &config->conn, &handler, &a);

  char err[300];
  int rc = 0;
  if (hw->ops->start(hw, &a.sink, err, sizeof err) != 0) {
    log_error("%s", err);
    rc = 1;
  } else {
    show_leds(&a);
    if (config->connect_at_start) conn_open(a.conn);
    run_loop(&a, cq, stop);
  }
  end_stream(&a, false); /* while the back end it tells still exists */
  if (rc == 0 && hw->ops->failed && hw->ops->failed(hw)) rc = 1;
  /* The back end's thread may still post a wakeup: stop it first. */
  hw->ops->destroy(hw);
  conn_destroy(a.conn);
  loop_wakeup_destroy(a.wakeup);
  cq_loop_destroy(cq);
  pthread_mutex_destroy(&a.input_lock);
  return rc;
}
