/* Why a connection attempt failed, in words, for the failures a person
 * must act on (TLS set-up, the certificate's identity): what gRPC 1.51
 * says for each is matched here, and what matches nothing keeps gRPC's
 * text (docs/device.md lists the words and what gRPC said).
 *
 * The server's certificate is checked by the device itself
 * (tls/server_check.c), which fails with LOSS_SERVER_CHECK_TAG and
 * OpenSSL's verify error number: numbers are OpenSSL's ABI, so that is the
 * robust part to match. */
#ifndef OPAL_LOSS_REASON_H
#define OPAL_LOSS_REASON_H

#include <stdbool.h>

typedef enum {
  LOSS_UNCLASSIFIED,        /* gRPC's text stands */
  LOSS_SERVER_UNTRUSTED,    /* no chain to --tls-ca */
  LOSS_SERVER_EXPIRED,
  LOSS_SERVER_NOT_YET_VALID,
  LOSS_SERVER_NAME,         /* the certificate does not name the host */
  LOSS_CERT_REQUIRED,       /* the server wants a client certificate, none given */
  LOSS_CERT_REFUSED,        /* ours was given and refused */
  LOSS_SERVER_NOT_TLS,      /* TLS device, plaintext server */
  LOSS_SERVER_WANTS_TLS,    /* plaintext device, hung up on at once */
  LOSS_NOT_THE_IDENTITY,    /* PERMISSION_DENIED: device_id is not the certificate's */
  LOSS_REASON_COUNT
} loss_reason;

/* How tls/server_check.c starts its failure text: then the number and
 * OpenSSL's text, "opal server check: verify error 10 (certificate has
 * expired)". */
#define LOSS_SERVER_CHECK_TAG "opal server check: verify error "

/* What the device knew of the attempt. */
typedef struct loss_context {
  bool tls;         /* it used TLS */
  bool client_cert; /* it presented a certificate */
  bool reached;     /* the server had answered, or the channel was ready */
} loss_context;

/* The reason for a call's status and details. */
loss_reason loss_reason_of(int status, const char *details, const loss_context *ctx);

/* The words ("server certificate not trusted"); NULL for LOSS_UNCLASSIFIED. */
const char *loss_reason_words(loss_reason r);

#endif
