/* EventStream: the device's button events out, the server's acks in. Events
 * wait in a queue and go out one at a time, each once the previous one is
 * acked, so every ack answers the event in flight. A malformed ack breaks
 * the protocol: the call fails (client_call_fail). */
#ifndef OPAL_EVENT_STREAM_H
#define OPAL_EVENT_STREAM_H

#include <stdint.h>

#include "net/client_call.h"
#include "net/conn_handler.h"

#define EVENT_QUEUE_LEN 32

typedef struct queued_event {
  int button, event;
  int64_t at_ns;
} queued_event;

typedef struct event_stream {
  client_call call;
  const conn_handler *device; /* acked */
  void *device_ctx;
  queued_event queue[EVENT_QUEUE_LEN];
  size_t head, count;
  bool awaiting_ack;     /* `in_flight` is out, its ack not yet in */
  queued_event in_flight;
} event_stream;

/* Starts the call; nothing goes out until event_stream_send. */
void event_stream_start(event_stream *es, const client_call_setup *setup,
                        const conn_handler *device, void *device_ctx);

/* Queues an event, and sends it at once if none is awaiting its ack. False
 * (and nothing queued) when EVENT_QUEUE_LEN events already wait. */
bool event_stream_send(event_stream *es, int button, int event, int64_t at_ns);

#endif
