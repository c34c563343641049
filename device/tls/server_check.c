#include "tls/server_check.h"

#include <grpc/support/string_util.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/loss_reason.h"

typedef struct server_check {
  grpc_tls_certificate_verifier_external external; /* gRPC holds its address until destruct */
  X509_STORE *roots;
} server_check;

/* The certificates of a PEM text, in order; NULL when there are none. */
static STACK_OF(X509) *read_chain(const char *pem) {
  STACK_OF(X509) *chain = sk_X509_new_null();
  BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
  X509 *x;
  while (chain && b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
    if (!sk_X509_push(chain, x)) X509_free(x);
  BIO_free(b);
  ERR_clear_error(); /* the end of the text is an "error" too */
  if (chain && sk_X509_num(chain) == 0) {
    sk_X509_free(chain);
    chain = NULL;
  }
  return chain;
}

/* The name the certificate must carry: a DNS name, or an IP address. */
static bool expect_name(X509_VERIFY_PARAM *param, const char *name) {
  if (X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1) return true;
  ERR_clear_error(); /* not an address: a host name */
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, name, 0) == 1;
}

/* 0 when `leaf` checks out for `name`, else OpenSSL's verify error, or -1
 * when the check itself could not run. The checks are libssl's for a
 * client: the "ssl_server" purpose and trust, the chain the server sent as
 * the untrusted certificates. */
static int verdict(X509_STORE *roots, X509 *leaf, STACK_OF(X509) *chain, const char *name) {
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int code = -1;
  if (ctx && X509_STORE_CTX_init(ctx, roots, leaf, chain) == 1 &&
      X509_STORE_CTX_set_default(ctx, "ssl_server") == 1 && name &&
      expect_name(X509_STORE_CTX_get0_param(ctx), name)) {
    int ok = X509_verify_cert(ctx);
    code = ok == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
    if (ok != 1 && code == X509_V_OK) code = X509_V_ERR_UNSPECIFIED;
  }
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  return code;
}

/* The text of a failure: what net/loss_reason.c reads. gRPC frees it. */
static char *failure_text(int code) {
  char *text;
  if (code < 0)
    gpr_asprintf(&text, "opal server check: could not run");
  else
    gpr_asprintf(&text, LOSS_SERVER_CHECK_TAG "%d (%s)", code, X509_verify_cert_error_string(code));
  return text;
}

/* gRPC's call: synchronous, so it returns non-zero with the result. */
static int verify(void *user_data, grpc_tls_custom_verification_check_request *request,
                  grpc_tls_on_custom_verification_check_done_cb callback, void *callback_arg,
                  grpc_status_code *sync_status, char **sync_error_details) {
  (void)callback, (void)callback_arg;
  server_check *check = user_data;
  /* The leaf is gRPC's peer_cert; the full chain (which gRPC does not
   * always have) only helps to build the path to the roots. */
  STACK_OF(X509) *leaf = read_chain(request->peer_info.peer_cert);
  STACK_OF(X509) *chain = read_chain(request->peer_info.peer_cert_full_chain);
  /* No certificate at all: OpenSSL's word for a chain with no leaf. */
  int code = leaf ? verdict(check->roots, sk_X509_value(leaf, 0), chain, request->target_name)
                  : X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
  sk_X509_pop_free(leaf, X509_free);
  sk_X509_pop_free(chain, X509_free);
  *sync_status = code == 0 ? GRPC_STATUS_OK : GRPC_STATUS_UNAUTHENTICATED;
  if (code != 0) *sync_error_details = failure_text(code);
  return 1;
}

static void cancel(void *user_data, grpc_tls_custom_verification_check_request *request) {
  (void)user_data, (void)request; /* nothing runs in the background */
}

static void destruct(void *user_data) {
  server_check *check = user_data;
  X509_STORE_free(check->roots);
  free(check);
}

/* The roots, from `ca_pem` or OpenSSL's default places. */
static X509_STORE *make_roots(const char *ca_pem) {
  X509_STORE *store = X509_STORE_new();
  if (!store) return NULL;
  bool ok = true;
  if (!ca_pem) {
    ok = X509_STORE_set_default_paths(store) == 1;
  } else {
    STACK_OF(X509) *certs = read_chain(ca_pem);
    ok = certs != NULL;
    for (int i = 0; ok && i < sk_X509_num(certs); i++)
      ok = X509_STORE_add_cert(store, sk_X509_value(certs, i)) == 1;
    sk_X509_pop_free(certs, X509_free);
  }
  ERR_clear_error();
  if (ok) return store;
  X509_STORE_free(store);
  return NULL;
}

grpc_tls_certificate_verifier *server_check_create(const char *ca_pem, char *err,
                                                   size_t err_len) {
  server_check *check = calloc(1, sizeof *check);
  if (check) check->roots = make_roots(ca_pem);
  if (!check || !check->roots) {
    snprintf(err, err_len, "--tls-ca: cannot make a certificate store of %s",
             ca_pem ? "it" : "the system's roots");
    free(check);
    return NULL;
  }
  check->external = (grpc_tls_certificate_verifier_external){
      .user_data = check, .verify = verify, .cancel = cancel, .destruct = destruct};
  return grpc_tls_certificate_verifier_external_create(&check->external);
}
