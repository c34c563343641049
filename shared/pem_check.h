/* Checks of TLS files with OpenSSL, before gRPC sees them (the server's
 * --tls-cert, --tls-key, --client-ca; the device's --tls-ca, --tls-cert,
 * --tls-key and the fleet's --tls-cert-dir): a missing, unreadable or
 * malformed file, or a key that does not match its certificate, is one
 * line naming the flag, the file and what is wrong. */
#ifndef OPAL_PEM_CHECK_H
#define OPAL_PEM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* The whole file at `path`, NUL-terminated; the caller frees it (with
 * pem_free for a key). NULL with "FLAG PATH: what is wrong" in `err`. */
char *pem_read_file(const char *flag, const char *path, char *err, size_t err_len);

/* 0 when `pem` holds at least one certificate; else -1 with
 * "FLAG PATH: no PEM certificate in it". */
int pem_check_certs(const char *flag, const char *path, const char *pem, char *err,
                    size_t err_len);

/* 0 when `key_pem` is an unencrypted private key of the first certificate
 * of `cert_pem`; else -1 with a line naming the flag and file at fault. */
int pem_check_pair(const char *cert_flag, const char *cert_path, const char *cert_pem,
                   const char *key_flag, const char *key_path, const char *key_pem, char *err,
                   size_t err_len);

/* The subject of the first certificate of `pem` ("/CN=opal.example.com"),
 * "" when there is none. */
void pem_cert_subject(const char *pem, char *out, size_t out_len);

/* True when the first certificate of `pem` has expired; its end of
 * validity ("Nov 30 20:42:54 2026 GMT") in `when` either way. */
bool pem_cert_expired(const char *pem, char *when, size_t when_len);

/* Frees a text of pem_read_file, wiping it first: a private key does not
 * linger in freed memory. NULL is allowed. */
void pem_free(char *pem);

#endif
