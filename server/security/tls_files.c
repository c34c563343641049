#include "security/tls_files.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PEM files are small; anything bigger is not one. */
#define MAX_PEM_BYTES (1 << 20)

/* The whole file, NUL-terminated (caller frees), or NULL with `err`. */
static char *read_file(const char *flag, const char *path, char *err, size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_len, "%s %s: %s", flag, path, strerror(errno));
    return NULL;
  }
  char *text = malloc(MAX_PEM_BYTES + 1);
  size_t n = text ? fread(text, 1, MAX_PEM_BYTES + 1, f) : 0;
  bool failed = ferror(f) != 0;
  fclose(f);
  if (!text || failed || n > MAX_PEM_BYTES || n == 0) {
    snprintf(err, err_len, "%s %s: %s", flag, path,
             !text ? "out of memory" : failed ? "cannot be read" : n == 0 ? "is empty"
                                                                    : "is larger than 1 MiB");
    free(text);
    return NULL;
  }
  text[n] = '\0';
  return text;
}

static BIO *bio_of(const char *pem) { return BIO_new_mem_buf(pem, -1); }

/* The first certificate of `pem`, or NULL. */
static X509 *first_cert(const char *pem) {
  BIO *b = bio_of(pem);
  X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return x;
}

/* "Dec  1 20:00:00 2027 GMT", and whether that has passed. */
static void not_after(const X509 *x, tls_pems *out) {
  BIO *b = BIO_new(BIO_s_mem());
  int n = b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1
              ? BIO_read(b, out->expires, (int)sizeof out->expires - 1) : 0;
  out->expires[n > 0 ? n : 0] = '\0';
  BIO_free(b);
  out->expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
}

/* The server certificate and its key: both parse, and belong together. */
static int check_pair(const tls_paths *p, tls_pems *out, char *err, size_t err_len) {
  X509 *x = first_cert(out->cert);
  if (!x) {
    snprintf(err, err_len, "--tls-cert %s: no PEM certificate in it", p->cert);
    return -1;
  }
  BIO *b = bio_of(out->key);
  EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  int rc = 0;
  if (!key) {
    snprintf(err, err_len, "--tls-key %s: no PEM private key in it (or it is encrypted)", p->key);
    rc = -1;
  } else if (X509_check_private_key(x, key) != 1) {
    snprintf(err, err_len, "--tls-key %s does not match --tls-cert %s", p->key, p->cert);
    rc = -1;
  } else {
    X509_NAME_oneline(X509_get_subject_name(x), out->subject, sizeof out->subject);
    not_after(x, out);
  }
  EVP_PKEY_free(key);
  X509_free(x);
  ERR_clear_error(); /* nothing of this run is left for gRPC's OpenSSL calls */
  return rc;
}

static int check_ca(const tls_paths *p, const tls_pems *pems, char *err, size_t err_len) {
  X509 *x = first_cert(pems->client_ca);
  ERR_clear_error();
  if (x) {
    X509_free(x);
    return 0;
  }
  snprintf(err, err_len, "--client-ca %s: no PEM certificate in it", p->client_ca);
  return -1;
}

int tls_pems_read(const tls_paths *paths, tls_pems *out, char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  int rc = -1;
  if (!(out->cert = read_file("--tls-cert", paths->cert, err, err_len))) goto done;
  if (!(out->key = read_file("--tls-key", paths->key, err, err_len))) goto done;
  if (paths->client_ca &&
      !(out->client_ca = read_file("--client-ca", paths->client_ca, err, err_len)))
    goto done;
  if (check_pair(paths, out, err, err_len) != 0) goto done;
  if (paths->client_ca && check_ca(paths, out, err, err_len) != 0) goto done;
  rc = 0;
done:
  if (rc != 0) tls_pems_free(out);
  return rc;
}

void tls_pems_free(tls_pems *p) {
  free(p->cert);
  if (p->key) memset(p->key, 0, strlen(p->key)); /* a private key does not linger */
  free(p->key);
  free(p->client_ca);
  memset(p, 0, sizeof *p);
}
