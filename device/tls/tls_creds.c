#include "tls/tls_creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pem_check.h"

char *tls_ca_read(const char *path, char *err, size_t err_len) {
  *err = '\0';
  if (strcmp(path, TLS_CA_SYSTEM) == 0) return NULL;
  char *pem = pem_read_file("--tls-ca", path, err, err_len);
  if (pem && pem_check_certs("--tls-ca", path, pem, err, err_len) != 0) {
    free(pem);
    return NULL;
  }
  return pem;
}

/* Both files of the pair, read and checked; 0, or -1 with `err` and
 * nothing to free. */
static int read_pair(const tls_pair_files *p, char **cert, char **key, char *err,
                     size_t err_len) {
  *cert = pem_read_file(p->cert_flag, p->cert, err, err_len);
  *key = *cert ? pem_read_file(p->key_flag, p->key, err, err_len) : NULL;
  if (*key && pem_check_pair(p->cert_flag, p->cert, *cert, p->key_flag, p->key, *key, err,
                             err_len) == 0) {
    char when[64];
    /* Still used: the server decides, and says nothing the device can
     * read (TLS 1.3), so this is the one place the reason is known. */
    if (pem_cert_expired(*cert, when, sizeof when))
      log_warn("tls: %s %s expired on %s: the server will refuse it", p->cert_flag, p->cert, when);
    return 0;
  }
  pem_free(*cert);
  pem_free(*key);
  *cert = *key = NULL;
  return -1;
}

/* What the handshake is given: the pair it presents, and our roots (gRPC
 * loads them, but its own check is off: the check is ours). gRPC copies
 * the texts. */
static void provide(grpc_tls_credentials_options *o, const char *ca_pem, const char *cert,
                    const char *key) {
  if (!ca_pem && !cert) return; /* gRPC loads its default roots, unused likewise */
  grpc_tls_identity_pairs *pairs = NULL;
  if (cert) {
    pairs = grpc_tls_identity_pairs_create();
    grpc_tls_identity_pairs_add_pair(pairs, key, cert);
  }
  grpc_tls_certificate_provider *p = grpc_tls_certificate_provider_static_data_create(ca_pem, pairs);
  grpc_tls_credentials_options_set_certificate_provider(o, p);
  grpc_tls_certificate_provider_release(p); /* the options hold it */
  if (ca_pem) grpc_tls_credentials_options_watch_root_certs(o);
  if (cert) grpc_tls_credentials_options_watch_identity_key_cert_pairs(o);
}

grpc_channel_credentials *tls_creds_create(const char *ca_pem,
                                           grpc_tls_certificate_verifier *check,
                                           const tls_pair_files *pair, char *err,
                                           size_t err_len) {
  char *cert = NULL, *key = NULL;
  if (pair && read_pair(pair, &cert, &key, err, err_len) != 0) return NULL;
  grpc_tls_credentials_options *o = grpc_tls_credentials_options_create();
  provide(o, ca_pem, cert, key);
  pem_free(cert);
  pem_free(key);
  /* gRPC's chain check off, ours on: see tls/server_check.h. */
  grpc_tls_credentials_options_set_verify_server_cert(o, 0);
  grpc_tls_credentials_options_set_certificate_verifier(o, check);
  grpc_channel_credentials *creds = grpc_tls_credentials_create(o); /* takes `o` */
  if (!creds) snprintf(err, err_len, "gRPC could not make TLS credentials");
  return creds;
}
