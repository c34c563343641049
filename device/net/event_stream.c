#include "net/event_stream.h"

#include "comms.pb-c.h"
#include "pb_buffer.h"

/* Sends the oldest queued event unless one is awaiting its ack. */
static void send_next(event_stream *es) {
  if (es->awaiting_ack || es->count == 0) return;
  es->in_flight = es->queue[es->head];
  es->head = (es->head + 1) % EVENT_QUEUE_LEN;
  es->count--;
  es->awaiting_ack = true;

  Com__Opalcamera__Test__ButtonEvent be = COM__OPALCAMERA__TEST__BUTTON_EVENT__INIT;
  be.button_id = (Com__Opalcamera__Test__ButtonEvent__ButtonId)es->in_flight.button;
  be.event = (Com__Opalcamera__Test__ButtonEvent__ButtonEventType)es->in_flight.event;
  Com__Opalcamera__Test__DeviceEvent ev = COM__OPALCAMERA__TEST__DEVICE_EVENT__INIT;
  ev.event_case = COM__OPALCAMERA__TEST__DEVICE_EVENT__EVENT_BUTTON_EVENT;
  ev.button_event = &be;
  /* The send and the ack's receive in one batch: it completes with the ack. */
  client_call_exchange(&es->call, pb_buffer_pack(&ev.base));
}

bool event_stream_send(event_stream *es, int button, int event, int64_t at_ns) {
  if (es->count == EVENT_QUEUE_LEN) return false;
  es->queue[(es->head + es->count) % EVENT_QUEUE_LEN] = (queued_event){button, event, at_ns};
  es->count++;
  send_next(es);
  return true;
}

/* The exchange of `in_flight` completed. */
static void received(client_call *cc, grpc_byte_buffer *ack) {
  event_stream *es = container_of(cc, event_stream, call);
  es->awaiting_ack = false;
  if (!ack) return; /* the stream is over; its status follows */
  Com__Opalcamera__Test__DeviceEventResponse *resp =
      (Com__Opalcamera__Test__DeviceEventResponse *)pb_buffer_unpack(
          &com__opalcamera__test__device_event_response__descriptor, ack);
  if (!resp) {
    client_call_fail(cc, "the server sent a malformed DeviceEventResponse");
    return;
  }
  const queued_event *e = &es->in_flight;
  if (es->device->acked) es->device->acked(es->device_ctx, e->button, e->event, resp->ack, e->at_ns);
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  send_next(es);
}

static const client_call_behaviour event_behaviour = {.received = received};

void event_stream_start(event_stream *es, const client_call_setup *setup,
                        const conn_handler *device, void *device_ctx) {
  es->device = device;
  es->device_ctx = device_ctx;
  es->head = es->count = 0;
  es->awaiting_ack = false;
  client_call_start(&es->call, setup, METHOD_EVENT, &event_behaviour, NULL);
}
