#include "pem_check.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A certificate, a chain or a key is a few kB; a bigger file is not one. */
#define PEM_MAX_BYTES (256 * 1024)

char *pem_read_file(const char *flag, const char *path, char *err, size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_len, "%s %s: %s", flag, path, strerror(errno));
    return NULL;
  }
  char *text = malloc(PEM_MAX_BYTES + 1);
  size_t n = text ? fread(text, 1, PEM_MAX_BYTES + 1, f) : 0;
  int read_errno = ferror(f) ? errno : 0;
  fclose(f);
  const char *why = !text ? "out of memory"
                    : read_errno ? strerror(read_errno)
                    : n == 0 ? "the file is empty"
                    : n > PEM_MAX_BYTES ? "larger than 256 kB, not a PEM file"
                    : NULL;
  if (why) {
    snprintf(err, err_len, "%s %s: %s%s", flag, path, read_errno ? "cannot be read: " : "", why);
    free(text);
    return NULL;
  }
  text[n] = '\0';
  return text;
}

/* The first certificate in `pem`, or NULL. */
static X509 *first_certificate(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return x;
}

/* An unencrypted private key: no pass phrase is ever asked for (a NULL
 * callback would prompt on the terminal). */
static int no_pass_phrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static EVP_PKEY *private_key(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_pass_phrase, NULL) : NULL;
  BIO_free(b);
  return k;
}

int pem_check_certs(const char *flag, const char *path, const char *pem, char *err,
                    size_t err_len) {
  X509 *x = first_certificate(pem);
  ERR_clear_error(); /* no error of ours is left for gRPC's OpenSSL calls to find */
  if (!x) {
    snprintf(err, err_len, "%s %s: no PEM certificate in it", flag, path);
    return -1;
  }
  X509_free(x);
  return 0;
}

int pem_check_pair(const char *cert_flag, const char *cert_path, const char *cert_pem,
                   const char *key_flag, const char *key_path, const char *key_pem, char *err,
                   size_t err_len) {
  if (pem_check_certs(cert_flag, cert_path, cert_pem, err, err_len) != 0) return -1;
  X509 *x = first_certificate(cert_pem);
  EVP_PKEY *key = private_key(key_pem);
  int rc = -1;
  if (!key)
    snprintf(err, err_len, "%s %s: no PEM private key in it (or it is encrypted)", key_flag,
             key_path);
  else if (!x || X509_check_private_key(x, key) != 1)
    snprintf(err, err_len, "%s %s does not match %s %s", key_flag, key_path, cert_flag,
             cert_path);
  else
    rc = 0;
  EVP_PKEY_free(key);
  X509_free(x);
  ERR_clear_error();
  return rc;
}

void pem_cert_subject(const char *pem, char *out, size_t out_len) {
  X509 *x = first_certificate(pem);
  out[0] = '\0';
  if (x) X509_NAME_oneline(X509_get_subject_name(x), out, (int)out_len);
  X509_free(x);
  ERR_clear_error();
}

bool pem_cert_expired(const char *pem, char *when, size_t when_len) {
  X509 *x = first_certificate(pem);
  BIO *b = BIO_new(BIO_s_mem());
  int n = x && b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1
              ? BIO_read(b, when, (int)when_len - 1) : 0;
  when[n > 0 ? n : 0] = '\0';
  bool expired = x && X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
  BIO_free(b);
  X509_free(x);
  ERR_clear_error();
  return expired;
}

void pem_free(char *pem) {
  if (!pem) return;
  OPENSSL_cleanse(pem, strlen(pem)); /* a memset before free may be optimised away */
  free(pem);
}
