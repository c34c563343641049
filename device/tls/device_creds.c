#include "tls/device_creds.h"

#include <stdio.h>
#include <stdlib.h>

#include "tls/server_check.h"
#include "tls/tls_creds.h"

struct device_creds {
  unsigned count;                 /* entries in `of`: 0, 1 (shared) or one per device */
  grpc_channel_credentials **of;
  bool client_cert;
};

/* Device i's file with extension `ext` in the folder, as the fleet names them. */
static void fleet_file(char *out, size_t len, const tls_flags *f, const char *prefix, unsigned i,
                       const char *ext) {
  snprintf(out, len, "%s/%s-%u.%s", f->cert_dir, prefix, i, ext);
}

/* Fills c->of: one entry per device with cert_dir, else one shared. */
static int make_all(device_creds *c, const tls_flags *f, const char *ca_pem,
                    grpc_tls_certificate_verifier *check, const char *prefix, unsigned count,
                    char *err, size_t err_len) {
  bool per_device = f->cert_dir != NULL;
  unsigned n = per_device ? count : 1;
  c->of = calloc(n, sizeof *c->of);
  if (!c->of) {
    snprintf(err, err_len, "out of memory for %u TLS credentials", n);
    return -1;
  }
  for (unsigned i = 0; i < n; i++) {
    char cert[4096], key[4096];
    tls_pair_files pair = {"--tls-cert", f->cert, "--tls-key", f->key};
    if (per_device) {
      fleet_file(cert, sizeof cert, f, prefix, i, "crt");
      fleet_file(key, sizeof key, f, prefix, i, "key");
      pair = (tls_pair_files){"--tls-cert-dir", cert, "--tls-cert-dir", key};
    }
    c->of[i] = tls_creds_create(ca_pem, check, per_device || f->cert ? &pair : NULL, err, err_len);
    if (!c->of[i]) return -1;
    c->count = i + 1;
  }
  return 0;
}

device_creds *device_creds_open(const tls_flags *flags, const char *id_prefix, unsigned count,
                                char *err, size_t err_len) {
  device_creds *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  if (!flags->ca) return c; /* plaintext */
  c->client_cert = flags->cert || flags->cert_dir;
  char *ca_pem = tls_ca_read(flags->ca, err, err_len);
  /* One check, and one copy of the roots, for every device. */
  grpc_tls_certificate_verifier *check =
      ca_pem || !*err ? server_check_create(ca_pem, err, err_len) : NULL;
  int rc = check ? make_all(c, flags, ca_pem, check, id_prefix, count, err, err_len) : -1;
  if (check) grpc_tls_certificate_verifier_release(check); /* the credentials hold it */
  free(ca_pem);
  if (rc != 0) {
    device_creds_close(c);
    return NULL;
  }
  return c;
}

grpc_channel_credentials *device_creds_get(const device_creds *c, unsigned i) {
  if (c->count == 0) return NULL;
  return c->of[c->count == 1 ? 0 : i];
}

bool device_creds_client_cert(const device_creds *c) { return c->client_cert; }

void device_creds_close(device_creds *c) {
  if (!c) return;
  for (unsigned i = 0; i < c->count; i++) grpc_channel_credentials_release(c->of[i]);
  free(c->of);
  free(c);
}
