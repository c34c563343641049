#include "security/tls_files.h"

#include <string.h>

#include "pem_check.h"

int tls_pems_read(const tls_paths *paths, tls_pems *out, char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  bool ok = (out->cert = pem_read_file("--tls-cert", paths->cert, err, err_len)) &&
            (out->key = pem_read_file("--tls-key", paths->key, err, err_len)) &&
            (!paths->client_ca ||
             (out->client_ca = pem_read_file("--client-ca", paths->client_ca, err, err_len))) &&
            pem_check_pair("--tls-cert", paths->cert, out->cert, "--tls-key", paths->key, out->key,
                           err, err_len) == 0 &&
            (!paths->client_ca || pem_check_certs("--client-ca", paths->client_ca,
                                                  out->client_ca, err, err_len) == 0);
  if (!ok) {
    tls_pems_free(out);
    return -1;
  }
  pem_cert_subject(out->cert, out->subject, sizeof out->subject);
  out->expired = pem_cert_expired(out->cert, out->expires, sizeof out->expires);
  return 0;
}

void tls_pems_free(tls_pems *p) {
  pem_free(p->cert);
  pem_free(p->key); /* wiped: a private key does not linger */
  pem_free(p->client_ca);
  memset(p, 0, sizeof *p);
}
