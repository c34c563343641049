#include "net/connection.h"

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/backoff.h"
#include "clock.h"
#include "comms.pb-c.h"
#include "log.h"
#include "loop_op.h"
#include "pb_buffer.h"
#include "status_name.h"
#include "wire.h"

#define EVENT_QUEUE_LEN 32
/* While connecting, how often to ask the channel whether it is ready: a
 * server that sends nothing until asked still counts as reached. */
#define CONNECT_POLL_NS (50 * NS_PER_MS)

typedef struct session session;

/* One client call and the batches in flight on it. */
typedef struct client_call {
  session *session;
  wire_method kind;
  grpc_call *call;
  int pending;   /* batches started, not yet completed */
  bool finished; /* its status has arrived */
  grpc_metadata device_id;
  grpc_metadata_array initial_md, trailing_md;
  grpc_status_code status;
  grpc_slice details;
  grpc_byte_buffer *send_buf, *recv_buf;
  loop_op start_op, finish_op, send_op, recv_op;
} client_call;

/* One attempt: a channel and its three calls. It frees itself once every
 * call is over and no batch is in flight. */
struct session {
  device_conn *conn;
  grpc_channel *channel;
  client_call calls[METHOD_COUNT];
  int live; /* calls not yet freed */
  bool ended;
};

typedef struct queued_event {
  int button, event;
  int64_t at_ns;
} queued_event;

struct device_conn {
  grpc_completion_queue *cq;
  char *target;
  grpc_slice device_id;
  const conn_handler *handler;
  void *ctx;

  conn_state state;
  bool wanted;
  bool was_connected; /* so a later success counts as a reconnect */
  session *session;   /* the current attempt, or NULL */
  int dying;          /* ended sessions still draining */
  backoff backoff;
  int64_t retry_at_ns, next_poll_ns;
  unsigned reconnects;

  queued_event queue[EVENT_QUEUE_LEN];
  size_t head, count;
  bool event_in_flight;
  queued_event in_flight;
};

const char *conn_state_name(conn_state s) {
  static const char *const names[] = {"offline", "connecting", "connected", "waiting"};
  return names[s];
}

static void set_state(device_conn *c, conn_state s, const conn_loss *loss) {
  c->state = s;
  if (c->handler->state_changed) c->handler->state_changed(c->ctx, s, loss);
}

/* ---- call plumbing ---- */

static void call_batch(client_call *cc, const grpc_op *ops, size_t n, loop_op *tag) {
  if (grpc_call_start_batch(cc->call, ops, n, tag, NULL) != GRPC_CALL_OK) abort();
  cc->pending++;
}

static void session_free(session *s) {
  grpc_channel_destroy(s->channel);
  if (s->conn) s->conn->dying--;
  free(s);
}

/* Frees the call once its status is in and nothing is in flight. */
static void call_settle(client_call *cc) {
  if (!cc->finished || cc->pending > 0 || !cc->call) return;
  grpc_call_unref(cc->call);
  cc->call = NULL;
  grpc_metadata_array_destroy(&cc->initial_md);
  grpc_metadata_array_destroy(&cc->trailing_md);
  grpc_slice_unref(cc->details);
  if (cc->send_buf) grpc_byte_buffer_destroy(cc->send_buf);
  if (cc->recv_buf) grpc_byte_buffer_destroy(cc->recv_buf);
  session *s = cc->session;
  if (--s->live == 0) session_free(s);
}

static void conn_lost(device_conn *c, const conn_loss *loss) {
  c->count = 0;
  c->event_in_flight = false;
  if (c->wanted) {
    unsigned delay = backoff_next_ms(&c->backoff);
    c->retry_at_ns = clock_now_ns() + (int64_t)delay * NS_PER_MS;
    log_info("connection lost: %s; next attempt in %u ms", loss->why, delay);
    set_state(c, CONN_WAITING, loss);
  } else {
    set_state(c, CONN_OFFLINE, loss);
  }
}

/* Ends the attempt: every call is cancelled, the connection lets go. */
static void session_end(session *s, int status, const char *why) {
  if (s->ended) return;
  s->ended = true;
  for (int k = 0; k < METHOD_COUNT; k++)
    if (s->calls[k].call && !s->calls[k].finished) grpc_call_cancel(s->calls[k].call, NULL);
  device_conn *c = s->conn;
  if (c && c->session == s) {
    c->session = NULL;
    c->dying++;
    conn_lost(c, &(conn_loss){.status = status, .why = why});
  }
}

static void pump_events(device_conn *c);

/* The server has answered (a message, or the channel is ready): the
 * attempt succeeded. */
static void note_reached(session *s) {
  device_conn *c = s->conn;
  if (s->ended || !c || c->session != s || c->state != CONN_CONNECTING) return;
  backoff_reset(&c->backoff);
  if (c->was_connected) c->reconnects++;
  c->was_connected = true;
  set_state(c, CONN_CONNECTED, NULL);
  pump_events(c);
}

static void post_receive(client_call *cc) {
  grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
  op.data.recv_message.recv_message = &cc->recv_buf;
  call_batch(cc, &op, 1, &cc->recv_op);
}

static void send_message(client_call *cc, grpc_byte_buffer *message) {
  cc->send_buf = message;
  grpc_op op = {.op = GRPC_OP_SEND_MESSAGE};
  op.data.send_message.send_message = message;
  call_batch(cc, &op, 1, &cc->send_op);
}

/* Takes the received message out of the call; NULL when the stream ended. */
static grpc_byte_buffer *take_received(client_call *cc) {
  grpc_byte_buffer *b = cc->recv_buf;
  cc->recv_buf = NULL;
  return b;
}

/* ---- StatusStream: answer each GET and SET ---- */

static grpc_byte_buffer *status_reply_text(const char *text) {
  Com__Opalcamera__Test__DeviceStatusResponse r = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__INIT;
  r.response_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATUS;
  r.status = (char *)text;
  return pb_buffer_pack(&r.base);
}

static grpc_byte_buffer *status_reply_state(device_conn *c) {
  uint32_t leds[LED_COUNT] = {0};
  bool pressed[BUTTON_COUNT] = {0};
  if (c->handler->status_wanted) c->handler->status_wanted(c->ctx, leds, pressed);
  Com__Opalcamera__Test__RGBAColor colour[LED_COUNT];
  for (int i = 0; i < LED_COUNT; i++) {
    com__opalcamera__test__rgbacolor__init(&colour[i]);
    colour[i].rgba = leds[i];
  }
  Com__Opalcamera__Test__DeviceStatus st = COM__OPALCAMERA__TEST__DEVICE_STATUS__INIT;
  Com__Opalcamera__Test__RGBAColor **led_fields[LED_COUNT] = {
      &st.led_0, &st.led_1, &st.led_2, &st.led_3, &st.led_4, &st.led_5};
  for (int i = 0; i < LED_COUNT; i++) *led_fields[i] = &colour[i];
  Com__Opalcamera__Test__DeviceStatus__ButtonStatus *buttons[BUTTON_COUNT] = {
      &st.button_1, &st.button_2, &st.button_3, &st.button_4};
  for (int i = 0; i < BUTTON_COUNT; i++)
    *buttons[i] = pressed[i] ? COM__OPALCAMERA__TEST__DEVICE_STATUS__BUTTON_STATUS__PRESSED
                             : COM__OPALCAMERA__TEST__DEVICE_STATUS__BUTTON_STATUS__RELEASED;
  /* No battery sensor: battery_level stays 0, proto3's "not reported". */
  Com__Opalcamera__Test__DeviceStatusResponse r = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__INIT;
  r.response_case = COM__OPALCAMERA__TEST__DEVICE_STATUS_RESPONSE__RESPONSE_STATE;
  r.state = &st;
  return pb_buffer_pack(&r.base);
}

static grpc_byte_buffer *apply_set(device_conn *c, const Com__Opalcamera__Test__DeviceStatusSet *set) {
  /* As the contract says: every LED a SET leaves out goes dark. */
  const Com__Opalcamera__Test__RGBAColor *given[LED_COUNT] = {
      NULL, set->led_1, set->led_2, set->led_3, set->led_4, set->led_5};
  uint32_t leds[LED_COUNT] = {0};
  for (int i = 1; i < LED_COUNT; i++) leds[i] = given[i] ? given[i]->rgba : 0;
  if (c->handler->leds_set) c->handler->leds_set(c->ctx, leds);
  return status_reply_text("success");
}

static grpc_byte_buffer *answer_request(device_conn *c, grpc_byte_buffer *message) {
  Com__Opalcamera__Test__DeviceStatusRequest *req = (Com__Opalcamera__Test__DeviceStatusRequest *)
      pb_buffer_unpack(&com__opalcamera__test__device_status_request__descriptor, message);
  if (!req) return status_reply_text("error: malformed DeviceStatusRequest");
  grpc_byte_buffer *reply;
  switch (req->request_case) {
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_GET:
    reply = status_reply_state(c);
    break;
  case COM__OPALCAMERA__TEST__DEVICE_STATUS_REQUEST__REQUEST_SET:
    reply = apply_set(c, req->set);
    break;
  default:
    reply = status_reply_text("error: DeviceStatusRequest has neither get nor set");
  }
  protobuf_c_message_free_unpacked(&req->base, NULL);
  return reply;
}

/* ---- EventStream: one event out, its ack in ---- */

static void pump_events(device_conn *c) {
  session *s = c->session;
  if (!s || c->state != CONN_CONNECTED || c->event_in_flight || c->count == 0) return;
  client_call *cc = &s->calls[METHOD_EVENT];
  c->in_flight = c->queue[c->head];
  c->head = (c->head + 1) % EVENT_QUEUE_LEN;
  c->count--;
  c->event_in_flight = true;

  Com__Opalcamera__Test__ButtonEvent be = COM__OPALCAMERA__TEST__BUTTON_EVENT__INIT;
  be.button_id = (Com__Opalcamera__Test__ButtonEvent__ButtonId)c->in_flight.button;
  be.event = (Com__Opalcamera__Test__ButtonEvent__ButtonEventType)c->in_flight.event;
  Com__Opalcamera__Test__DeviceEvent ev = COM__OPALCAMERA__TEST__DEVICE_EVENT__INIT;
  ev.event_case = COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT;
  ev.button_event = &be;
  cc->send_buf = pb_buffer_pack(&ev.base);
  /* Send and receive the ack in one batch: it completes with the ack. */
  grpc_op ops[2] = {{.op = GRPC_OP_SEND_MESSAGE}, {.op = GRPC_OP_RECV_MESSAGE}};
  ops[0].data.send_message.send_message = cc->send_buf;
  ops[1].data.recv_message.recv_message = &cc->recv_buf;
  call_batch(cc, ops, 2, &cc->send_op);
}

static void event_acked(client_call *cc, bool ok) {
  device_conn *c = cc->session->conn;
  grpc_byte_buffer *message = take_received(cc);
  if (c && c->session == cc->session && c->event_in_flight) {
    c->event_in_flight = false;
    Com__Opalcamera__Test__DeviceEventResponse *resp = NULL;
    if (ok && message)
      resp = (Com__Opalcamera__Test__DeviceEventResponse *)pb_buffer_unpack(
          &com__opalcamera__test__device_event_response__descriptor, message);
    if (resp) {
      if (c->handler->acked)
        c->handler->acked(c->ctx, c->in_flight.button, c->in_flight.event, resp->ack,
                          c->in_flight.at_ns);
      protobuf_c_message_free_unpacked(&resp->base, NULL);
      pump_events(c);
    } else if (ok && message) {
      session_end(cc->session, CONN_NO_STATUS, "the server sent a malformed DeviceEventResponse");
    }
  }
  if (message) grpc_byte_buffer_destroy(message);
}

/* ---- ServerAudioStream ---- */

static void audio_received(device_conn *c, grpc_byte_buffer *message) {
  Com__Opalcamera__Test__AudioPacket *p = (Com__Opalcamera__Test__AudioPacket *)pb_buffer_unpack(
      &com__opalcamera__test__audio_packet__descriptor, message);
  if (!p) {
    log_warn("audio: a malformed AudioPacket was skipped");
    return;
  }
  if (c->handler->audio) c->handler->audio(c->ctx, p->data.data, p->data.len, p->is_start, p->is_end);
  protobuf_c_message_free_unpacked(&p->base, NULL);
}

/* ---- completions ---- */

static void on_start(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, start_op);
  cc->pending--;
  if (cc->kind == METHOD_AUDIO && cc->send_buf) {
    grpc_byte_buffer_destroy(cc->send_buf);
    cc->send_buf = NULL;
  }
  (void)ok; /* completes on failed calls too: contact is proven elsewhere */
  call_settle(cc);
}

static void on_finish(loop_op *op, bool ok) {
  (void)ok;
  client_call *cc = container_of(op, client_call, finish_op);
  cc->pending--;
  cc->finished = true;
  char why[256];
  char *details = grpc_slice_to_c_string(cc->details);
  snprintf(why, sizeof why, "%s ended: %s%s%s", wire_method_name(cc->kind),
           status_name(cc->status), *details ? ": " : "", details);
  gpr_free(details);
  session_end(cc->session, (int)cc->status, why);
  call_settle(cc);
}

static void on_send(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, send_op);
  cc->pending--;
  grpc_byte_buffer_destroy(cc->send_buf);
  cc->send_buf = NULL;
  if (cc->kind == METHOD_EVENT) event_acked(cc, ok);
  else if (ok && !cc->session->ended) post_receive(cc); /* status: next request */
  call_settle(cc);
}

static void on_receive(loop_op *op, bool ok) {
  client_call *cc = container_of(op, client_call, recv_op);
  cc->pending--;
  grpc_byte_buffer *message = take_received(cc);
  session *s = cc->session;
  if (ok && message && !s->ended) {
    note_reached(s);
    if (cc->kind == METHOD_STATUS) {
      send_message(cc, answer_request(s->conn, message));
    } else {
      audio_received(s->conn, message);
      post_receive(cc);
    }
  }
  if (message) grpc_byte_buffer_destroy(message);
  call_settle(cc);
}

/* ---- starting an attempt ---- */

static void start_call(session *s, wire_method kind) {
  device_conn *c = s->conn;
  client_call *cc = &s->calls[kind];
  cc->session = s;
  cc->kind = kind;
  cc->start_op.fn = on_start;
  cc->finish_op.fn = on_finish;
  cc->send_op.fn = on_send;
  cc->recv_op.fn = on_receive;
  grpc_metadata_array_init(&cc->initial_md);
  grpc_metadata_array_init(&cc->trailing_md);
  cc->details = grpc_empty_slice();
  cc->call = grpc_channel_create_call(s->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                      grpc_slice_from_static_string(wire_method_path(kind)), NULL,
                                      gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  s->live++;
  cc->device_id.key = grpc_slice_from_static_string("device_id");
  cc->device_id.value = c->device_id;

  grpc_op ops[4] = {{.op = GRPC_OP_SEND_INITIAL_METADATA}, {.op = GRPC_OP_RECV_INITIAL_METADATA}};
  ops[0].data.send_initial_metadata.count = 1;
  ops[0].data.send_initial_metadata.metadata = &cc->device_id;
  ops[1].data.recv_initial_metadata.recv_initial_metadata = &cc->initial_md;
  size_t n = 2;
  if (kind == METHOD_AUDIO) {
    Com__Opalcamera__Test__AudioStreamRequest req = COM__OPALCAMERA__TEST__AUDIO_STREAM_REQUEST__INIT;
    req.start = 1;
    cc->send_buf = pb_buffer_pack(&req.base);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = cc->send_buf;
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  }
  call_batch(cc, ops, n, &cc->start_op);

  grpc_op finish = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
  finish.data.recv_status_on_client.trailing_metadata = &cc->trailing_md;
  finish.data.recv_status_on_client.status = &cc->status;
  finish.data.recv_status_on_client.status_details = &cc->details;
  call_batch(cc, &finish, 1, &cc->finish_op);

  if (kind != METHOD_EVENT) post_receive(cc);
}

static grpc_channel *make_channel(const char *target) {
  static grpc_arg args[] = {
      /* Our own backoff decides when to retry: a fresh subchannel per
       * attempt carries no backoff state of gRPC's. */
      {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
      /* Notice a server that vanished without closing the connection. */
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = 20000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = 10000}},
      {GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}},
      {GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, {.integer = 0}},
  };
  static const grpc_channel_args channel_args = {sizeof args / sizeof args[0], args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  return ch;
}

static void start_session(device_conn *c) {
  session *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->conn = c;
  s->channel = make_channel(c->target);
  c->session = s;
  c->next_poll_ns = clock_now_ns() + CONNECT_POLL_NS;
  set_state(c, CONN_CONNECTING, NULL);
  for (int k = 0; k < METHOD_COUNT; k++) start_call(s, (wire_method)k);
}

/* ---- public ---- */

device_conn *conn_create(grpc_completion_queue *cq, const conn_config *config,
                         const conn_handler *handler, void *ctx) {
  device_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cq = cq;
  c->target = strdup(config->target);
  c->device_id = grpc_slice_from_copied_string(config->device_id);
  c->handler = handler;
  c->ctx = ctx;
  backoff_init(&c->backoff, config->backoff_base_ms, config->backoff_cap_ms, config->seed);
  return c;
}

void conn_open(device_conn *c) {
  if (c->wanted) return;
  c->wanted = true;
  backoff_reset(&c->backoff);
  if (!c->session) start_session(c);
}

void conn_close(device_conn *c) {
  c->wanted = false;
  if (c->session) session_end(c->session, CONN_NO_STATUS, "closed");
  else if (c->state != CONN_OFFLINE)
    set_state(c, CONN_OFFLINE, &(conn_loss){.status = CONN_NO_STATUS, .why = "closed"});
}

conn_state conn_get_state(const device_conn *c) { return c->state; }
bool conn_wanted(const device_conn *c) { return c->wanted; }
unsigned conn_reconnects(const device_conn *c) { return c->reconnects; }

bool conn_send_event(device_conn *c, int button, int event, int64_t at_ns) {
  if (c->state != CONN_CONNECTED || c->count == EVENT_QUEUE_LEN) return false;
  c->queue[(c->head + c->count) % EVENT_QUEUE_LEN] = (queued_event){button, event, at_ns};
  c->count++;
  pump_events(c);
  return true;
}

void conn_tick(device_conn *c, int64_t now_ns) {
  if (c->state == CONN_WAITING && c->wanted && !c->session && now_ns >= c->retry_at_ns)
    start_session(c);
  if (c->state == CONN_CONNECTING && c->session && now_ns >= c->next_poll_ns) {
    c->next_poll_ns = now_ns + CONNECT_POLL_NS;
    if (grpc_channel_check_connectivity_state(c->session->channel, 0) == GRPC_CHANNEL_READY)
      note_reached(c->session);
  }
}

int64_t conn_next_deadline_ns(const device_conn *c) {
  if (c->state == CONN_WAITING) return c->retry_at_ns;
  if (c->state == CONN_CONNECTING) return c->next_poll_ns;
  return INT64_MAX;
}

bool conn_busy(const device_conn *c) { return c->session || c->dying > 0; }

void conn_destroy(device_conn *c) {
  if (!c) return;
  grpc_slice_unref(c->device_id);
  free(c->target);
  free(c);
}
