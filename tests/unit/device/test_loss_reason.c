/* net/loss_reason.c: the words for what gRPC 1.51 said, as the device saw
 * it in tests/tls/test_device_tls.py (the texts below are copied from
 * those runs), and gRPC's text kept for everything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grpc/status.h>
#include <string.h>

#include "net/loss_reason.h"

#define CONNECT_FAILED "failed to connect to all addresses; last error: "
/* What our check of the server's certificate fails with, through gRPC. */
#define CHECK CONNECT_FAILED "UNKNOWN: ipv4:127.0.0.1:39717: Custom verification check failed " \
                             "with error: UNAUTHENTICATED: " LOSS_SERVER_CHECK_TAG

static const loss_context tls_with_cert = {.tls = true, .client_cert = true};
static const loss_context tls_no_cert = {.tls = true};
static const loss_context plaintext = {0};

static loss_reason unavailable(const char *details, const loss_context *ctx) {
  return loss_reason_of(GRPC_STATUS_UNAVAILABLE, details, ctx);
}

static void our_server_check(void **unused) {
  (void)unused;
  assert_int_equal(unavailable(CONNECT_FAILED "UNKNOWN: ipv4:127.0.0.1:39717: Custom verification "
                               "check failed with error: UNAUTHENTICATED: opal server check: "
                               "verify error 19 (self-signed certificate in certificate chain)",
                               &tls_with_cert),
                   LOSS_SERVER_UNTRUSTED);
  assert_int_equal(unavailable(CHECK "20 (unable to get local issuer certificate)", &tls_no_cert),
                   LOSS_SERVER_UNTRUSTED);
  assert_int_equal(unavailable(CHECK "10 (certificate has expired)", &tls_with_cert),
                   LOSS_SERVER_EXPIRED);
  assert_int_equal(unavailable(CHECK "9 (certificate is not yet valid)", &tls_with_cert),
                   LOSS_SERVER_NOT_YET_VALID);
  assert_int_equal(unavailable(CHECK "62 (hostname mismatch)", &tls_with_cert), LOSS_SERVER_NAME);
  assert_int_equal(unavailable(CHECK "64 (IP address mismatch)", &tls_with_cert), LOSS_SERVER_NAME);
  assert_int_equal(unavailable(CHECK "26 (unsupported certificate purpose)", &tls_with_cert),
                   LOSS_SERVER_UNTRUSTED);
}

static void handshakes(void **unused) {
  (void)unused;
  static const char wrong_version[] =
      CONNECT_FAILED "UNKNOWN: ipv4:127.0.0.1:41041: Tls handshake failed: SSL_ERROR_SSL: "
                     "error:0A00010B:SSL routines::wrong version number";
  static const char hung_up[] = CONNECT_FAILED "UNAVAILABLE: ipv4:127.0.0.1:33577: Socket closed";
  assert_int_equal(unavailable(wrong_version, &tls_with_cert), LOSS_SERVER_NOT_TLS);
  assert_int_equal(unavailable(hung_up, &tls_with_cert), LOSS_CERT_REFUSED);
  assert_int_equal(unavailable(hung_up, &tls_no_cert), LOSS_CERT_REQUIRED);
  assert_int_equal(unavailable(hung_up, &plaintext), LOSS_SERVER_WANTS_TLS);
  /* A connection that was up and then closed is an ordinary loss. */
  const loss_context reached = {.tls = true, .client_cert = true, .reached = true};
  assert_int_equal(unavailable(hung_up, &reached), LOSS_UNCLASSIFIED);
  assert_int_equal(unavailable("Socket closed", &tls_with_cert), LOSS_UNCLASSIFIED);
}

static void identity(void **unused) {
  (void)unused;
  static const char denied[] =
      "device_id dev-2 is not the identity of the client certificate (dev-1)";
  const loss_context reached = {.tls = true, .client_cert = true, .reached = true};
  assert_int_equal(loss_reason_of(GRPC_STATUS_PERMISSION_DENIED, denied, &tls_with_cert),
                   LOSS_NOT_THE_IDENTITY);
  assert_int_equal(loss_reason_of(GRPC_STATUS_PERMISSION_DENIED, denied, &reached),
                   LOSS_NOT_THE_IDENTITY);
  assert_int_equal(loss_reason_of(GRPC_STATUS_PERMISSION_DENIED, "no", &tls_with_cert),
                   LOSS_UNCLASSIFIED);
}

static void everything_else_keeps_grpcs_text(void **unused) {
  (void)unused;
  assert_int_equal(unavailable(CONNECT_FAILED "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to "
                               "remote host: Connection refused", &tls_with_cert),
                   LOSS_UNCLASSIFIED);
  assert_int_equal(loss_reason_of(GRPC_STATUS_CANCELLED, "", &plaintext), LOSS_UNCLASSIFIED);
  assert_int_equal(loss_reason_of(-1, "closed", &plaintext), LOSS_UNCLASSIFIED);
  assert_null(loss_reason_words(LOSS_UNCLASSIFIED));
  assert_null(loss_reason_words(LOSS_REASON_COUNT));
  for (int r = LOSS_UNCLASSIFIED + 1; r < LOSS_REASON_COUNT; r++)
    assert_non_null(loss_reason_words((loss_reason)r));
  assert_string_equal(loss_reason_words(LOSS_SERVER_UNTRUSTED), "server certificate not trusted");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(our_server_check),
      cmocka_unit_test(handshakes),
      cmocka_unit_test(identity),
      cmocka_unit_test(everything_else_keeps_grpcs_text),
  };
  return cmocka_run_group_tests_name("loss_reason", tests, NULL, NULL);
}
