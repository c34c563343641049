#include "net/loss_reason.h"

#include <grpc/status.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>

const char *loss_reason_words(loss_reason r) {
  static const char *const words[LOSS_REASON_COUNT] = {
      [LOSS_SERVER_UNTRUSTED] = "server certificate not trusted",
      [LOSS_SERVER_EXPIRED] = "server certificate expired",
      [LOSS_SERVER_NOT_YET_VALID] = "server certificate not yet valid (is the clock right?)",
      [LOSS_SERVER_NAME] = "server name does not match the certificate",
      [LOSS_CERT_REQUIRED] = "the server requires a client certificate",
      [LOSS_CERT_REFUSED] = "client certificate refused by the server",
      [LOSS_SERVER_NOT_TLS] = "the server does not speak TLS",
      [LOSS_SERVER_WANTS_TLS] = "the server hung up at once (does it want TLS? see --tls-ca)",
      [LOSS_NOT_THE_IDENTITY] = "device_id is not the identity of the client certificate",
  };
  return r > LOSS_UNCLASSIFIED && r < LOSS_REASON_COUNT ? words[r] : NULL;
}

/* Our own check of the server's certificate failed: what OpenSSL found. */
static loss_reason server_check_failure(const char *at) {
  int code = atoi(at + strlen(LOSS_SERVER_CHECK_TAG));
  switch (code) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return LOSS_SERVER_EXPIRED;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return LOSS_SERVER_NOT_YET_VALID;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return LOSS_SERVER_NAME;
  default:
    /* No chain to the roots, a bad signature, the wrong purpose, an issuer
     * that expired: whatever it is, the certificate is not to be trusted. */
    return LOSS_SERVER_UNTRUSTED;
  }
}

/* gRPC's word for a connection the peer closed before HTTP/2 began. With
 * TLS 1.3 a server that refuses the client's certificate does so after the
 * client's side of the handshake is done, and gRPC's server closes the
 * socket without sending the alert: this is all the device sees. */
static bool hung_up_while_connecting(const char *details) {
  return strstr(details, "failed to connect to all addresses") &&
         strstr(details, "Socket closed");
}

loss_reason loss_reason_of(int status, const char *details, const loss_context *ctx) {
  const char *at;
  if (status == GRPC_STATUS_PERMISSION_DENIED &&
      strstr(details, "is not the identity of the client certificate"))
    return LOSS_NOT_THE_IDENTITY;
  if (status != GRPC_STATUS_UNAVAILABLE || ctx->reached) return LOSS_UNCLASSIFIED;
  if ((at = strstr(details, LOSS_SERVER_CHECK_TAG))) return server_check_failure(at);
  if (ctx->tls && (strstr(details, "wrong version number") ||
                   strstr(details, "WRONG_VERSION_NUMBER")))
    return LOSS_SERVER_NOT_TLS;
  if (hung_up_while_connecting(details))
    return !ctx->tls ? LOSS_SERVER_WANTS_TLS
           : ctx->client_cert ? LOSS_CERT_REFUSED : LOSS_CERT_REQUIRED;
  return LOSS_UNCLASSIFIED;
}
