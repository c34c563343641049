/* A device's connection to a server: one channel carrying StatusStream,
 * EventStream and ServerAudioStream, all with the device_id metadata.
 * When any call ends, the whole session is torn down and, if the device
 * still wants to be connected, retried after an exponential backoff with
 * full jitter. Runs entirely on the loop thread that drains `cq`; several
 * connections may share one loop. */
#ifndef OPAL_CONNECTION_H
#define OPAL_CONNECTION_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"

typedef enum {
  CONN_OFFLINE,    /* not wanted: the user switched it off */
  CONN_CONNECTING, /* calls started, no word from the server yet */
  CONN_CONNECTED,  /* the server answered */
  CONN_WAITING,    /* lost; the next attempt is scheduled */
} conn_state;

/* Why a connection was lost. */
typedef struct conn_loss {
  int status;      /* the grpc_status_code that ended a call, or CONN_NO_STATUS */
  const char *why; /* for people: "StatusStream ended: UNAVAILABLE: ..." */
} conn_loss;

#define CONN_NO_STATUS (-1) /* lost for a reason of the device's own */

/* What the connection tells its owner, on the loop thread. */
typedef struct conn_handler {
  /* `loss` says why, when the state is a loss (WAITING, OFFLINE); else NULL. */
  void (*state_changed)(void *ctx, conn_state state, const conn_loss *loss);
  /* A SET: leds[1..5] as sent (absent LEDs are 0); leds[0] is unused. */
  void (*leds_set)(void *ctx, const uint32_t leds[LED_COUNT]);
  /* A GET: the device's real LEDs and buttons. */
  void (*status_wanted)(void *ctx, uint32_t leds[LED_COUNT], bool pressed[BUTTON_COUNT]);
  /* The ack of an event sent with conn_send_event. */
  void (*acked)(void *ctx, int button, int event, bool ack, int64_t sent_ns);
  /* One AudioPacket. */
  void (*audio)(void *ctx, const uint8_t *data, size_t len, bool is_start, bool is_end);
} conn_handler;

typedef struct conn_config {
  const char *target;    /* HOST:PORT */
  const char *device_id; /* copied */
  unsigned backoff_base_ms, backoff_cap_ms;
  uint64_t seed; /* for the jitter */
} conn_config;

typedef struct device_conn device_conn;

/* The caller owns the result; `handler` and `ctx` must outlive it. */
device_conn *conn_create(grpc_completion_queue *cq, const conn_config *config,
                         const conn_handler *handler, void *ctx);

/* Connect, and keep reconnecting until conn_close. */
void conn_open(device_conn *c);
/* Cancel the calls and stay offline. */
void conn_close(device_conn *c);

conn_state conn_get_state(const device_conn *c);
bool conn_wanted(const device_conn *c);
unsigned conn_reconnects(const device_conn *c);

/* Queues a button event; events go out one at a time, each after the
 * previous one's ack. False (and nothing sent) when not connected. */
bool conn_send_event(device_conn *c, int button, int event, int64_t at_ns);

/* Timers: call at least by the returned deadline (clock_now_ns time). */
void conn_tick(device_conn *c, int64_t now_ns);
int64_t conn_next_deadline_ns(const device_conn *c);

/* True while any call or channel of this connection still exists; after
 * conn_close, keep draining the queue until it is false, then destroy. */
bool conn_busy(const device_conn *c);
void conn_destroy(device_conn *c);

const char *conn_state_name(conn_state s);

#endif
