/* What a device's connection tells its owner, and the types those reports
 * carry. Apart from connection.h so that the streams, which deliver most of
 * these reports, can call the owner's callbacks without knowing the
 * connection. Every callback runs on the loop thread; any may be NULL. */
#ifndef OPAL_CONN_HANDLER_H
#define OPAL_CONN_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loss_reason.h"
#include "wire.h"

typedef enum {
  CONN_OFFLINE,    /* not wanted: the user switched it off */
  CONN_CONNECTING, /* calls started, no word from the server yet */
  CONN_CONNECTED,  /* the server answered */
  CONN_WAITING,    /* lost; the next attempt is scheduled */
} conn_state;

/* Why a connection was lost. */
typedef struct conn_loss {
  int status;         /* the grpc_status_code that ended a call, or CONN_NO_STATUS */
  loss_reason reason; /* in words, for a TLS or identity failure (net/loss_reason.h) */
  /* For people: "StatusStream ended: UNAVAILABLE: ...", or the reason's
   * words first: "server certificate expired (StatusStream ended: ...)". */
  const char *why;
} conn_loss;

#define CONN_NO_STATUS (-1) /* lost for a reason of the device's own */

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
  /* ServerAudioStream opened: the longest packets the server will send,
   * in ms, as it said in its `opal-packet-ms` reply (20 when it said
   * nothing: a server that does not negotiate sends 20 ms packets). */
  void (*packets_granted)(void *ctx, unsigned packet_ms);
} conn_handler;

#endif
