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

#include "net/channel.h"

/* conn_state, conn_loss, CONN_NO_STATUS and conn_handler: what the
 * connection tells its owner. */
#include "net/conn_handler.h"

/* The reconnect delay every device uses: attempt n waits a uniform time in
 * [0, min(cap, base * 2^n)] (full jitter), so a fleet that lost its server
 * does not come back in step. */
#define CONN_BACKOFF_BASE_MS 100
#define CONN_BACKOFF_CAP_MS 3000

typedef struct conn_config {
  const char *target;    /* HOST:PORT, copied */
  const char *device_id; /* copied */
  /* Plaintext or TLS (net/channel.h): the server name is copied, the
   * credentials are borrowed and must outlive the connection. */
  channel_security security;
  unsigned backoff_base_ms, backoff_cap_ms;
  uint64_t seed; /* for the jitter */
  /* Opus packets this long are asked for on ServerAudioStream
   * (net/audio_stream.h); 0 or AUDIO_BASE_PACKET_MS asks for nothing. */
  unsigned packet_ms;
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
 * previous one's ack. False (and nothing sent) when not connected, or when
 * the queue already holds EVENT_QUEUE_LEN (net/event_stream.h) events. */
bool conn_send_event(device_conn *c, int button, int event, int64_t at_ns);

/* Timers: call at least by the returned deadline (clock_now_ns time). */
void conn_tick(device_conn *c, int64_t now_ns);
int64_t conn_next_deadline_ns(const device_conn *c);

/* True while any call or channel of this connection still exists; after
 * conn_close, keep draining the queue until it is false, then destroy. */
bool conn_busy(const device_conn *c);
/* Frees the connection (NULL is allowed). Aborts, saying so, if it is still
 * conn_busy: its sessions would report into freed memory. */
void conn_destroy(device_conn *c);

const char *conn_state_name(conn_state s);

#endif
