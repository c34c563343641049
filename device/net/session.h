/* One attempt to reach the server: a channel of its own carrying the three
 * streams, each call sending the device_id metadata (and ServerAudioStream
 * the packet size it asks for).
 *
 * Lifetime: session_start creates it and starts every call. It is reached
 * at most once (the server sent a message, or the channel is ready), and
 * ends exactly once: when any call's status arrives, when a stream fails,
 * or by session_end; the calls still running are then cancelled. It frees
 * itself once every call is released, and says `released` last.
 * The owner lets go of a session when told `ended`, and must outlive it
 * until `released` (conn_destroy aborts while a session is left). */
#ifndef OPAL_SESSION_H
#define OPAL_SESSION_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/channel.h"
#include "net/conn_handler.h"

typedef struct session session;

/* What a session tells its owner; `ctx` is session_config.owner_ctx. */
typedef struct session_owner {
  void (*reached)(void *ctx, session *s);                      /* before any end */
  void (*ended)(void *ctx, session *s, const conn_loss *loss); /* once */
  void (*released)(void *ctx);                                 /* `s` is gone */
} session_owner;

typedef struct session_config {
  grpc_completion_queue *cq;
  const char *target;         /* HOST:PORT */
  const channel_security *security; /* read during session_start only */
  grpc_slice device_id;       /* the session takes a reference */
  unsigned packet_ms;         /* asked for on ServerAudioStream (audio_stream_start) */
  const conn_handler *device; /* what the streams report to the device */
  void *device_ctx;
  const session_owner *owner;
  void *owner_ctx;
} session_config;

session *session_start(const session_config *config);

/* The functions below are the owner's, and only until `ended`. */

/* Ends the attempt for `status` and `why` (see conn_loss). */
void session_end(session *s, int status, const char *why);

/* Asks the channel whether it is connected; connected at two asks in a
 * row, the attempt counts as reached even before the server says anything. */
void session_check_channel(session *s);

/* Queues a button event on the EventStream (event_stream_send). */
bool session_send_event(session *s, int button, int event, int64_t at_ns);

#endif
