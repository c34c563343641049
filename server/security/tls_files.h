/* The server's TLS files (--tls-cert, --tls-key, --client-ca), read and
 * checked (shared/pem_check.h) before gRPC sees them, so that a missing,
 * unreadable, malformed or mismatched file is one line that names the flag,
 * the file and what is wrong, rather than a failed handshake later. */
#ifndef OPAL_TLS_FILES_H
#define OPAL_TLS_FILES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tls_paths {
  const char *cert;      /* PEM chain, the server's first */
  const char *key;       /* PEM private key of the first certificate */
  const char *client_ca; /* PEM CA(s) devices' certificates must chain to; NULL: none asked */
} tls_paths;

/* What was read: the PEM texts (owned, NUL-terminated) and, for the log,
 * the server certificate's subject and end of validity. */
typedef struct tls_pems {
  char *cert, *key, *client_ca;
  char subject[256];
  char expires[64]; /* "Dec  1 20:00:00 2027 GMT" */
  bool expired;
} tls_pems;

/* Reads and checks every file of `paths` into `out`. 0, or -1 with one
 * line in `err` ("--tls-key /etc/opal/server.key does not match --tls-cert
 * /etc/opal/server.crt") and nothing to free. */
int tls_pems_read(const tls_paths *paths, tls_pems *out, char *err, size_t err_len);

void tls_pems_free(tls_pems *p);

#endif
