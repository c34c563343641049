/* The device's TLS credentials: its connection flags' files (--tls-ca,
 * --tls-cert, --tls-key; the fleet's --tls-cert-dir) read and checked at
 * start-up (shared/pem_check.h), then made into gRPC channel credentials
 * whose server check is ours (tls/server_check.h). gRPC keeps its own copy
 * of the texts, so the files are read once and every later connection
 * attempt reuses the credentials. Call after grpc_init. */
#ifndef OPAL_TLS_CREDS_H
#define OPAL_TLS_CREDS_H

#include <grpc/grpc_security.h>
#include <stddef.h>

/* A device's certificate and key, and the flags that named them (for the
 * error lines: "--tls-cert" or "--tls-cert-dir"). */
typedef struct tls_pair_files {
  const char *cert_flag, *cert;
  const char *key_flag, *key;
} tls_pair_files;

/* --tls-ca: "system" means the system's roots (OpenSSL's default places). */
#define TLS_CA_SYSTEM "system"

/* The roots to verify the server with: the text of the --tls-ca file,
 * read and checked (the caller frees it), or NULL with *err == '\0' for
 * TLS_CA_SYSTEM. NULL with one line in `err` when the file is no good. */
char *tls_ca_read(const char *path, char *err, size_t err_len);

/* Credentials that check the server with `check` (server_check_create of
 * the same roots; borrowed, the credentials take a reference) and, when
 * `pair` is not NULL, present that certificate (mutual TLS). The pair's
 * files are read, checked and forgotten here. The caller owns the result
 * (grpc_channel_credentials_release). NULL with one line in `err`. */
grpc_channel_credentials *tls_creds_create(const char *ca_pem,
                                           grpc_tls_certificate_verifier *check,
                                           const tls_pair_files *pair, char *err,
                                           size_t err_len);

#endif
