/* The check of the server's certificate, done by the device with OpenSSL
 * (X509_verify_cert, what libssl itself runs) rather than inside gRPC's
 * handshake: gRPC 1.51 reports every failed chain as "certificate verify
 * failed", and the device must say which it was. So the handshake skips
 * its own chain check and calls this one (gRPC's external certificate
 * verifier), which checks the chain against the roots, the purpose
 * (serverAuth), the validity dates and the name, and fails with a text
 * that says what is wrong: LOSS_SERVER_CHECK_TAG (net/loss_reason.h), then
 * OpenSSL's verify error, which net/loss_reason.c turns into words.
 *
 * Threads: gRPC calls the check on its own threads, any number at once;
 * what it reads (the roots) is not changed after creation. */
#ifndef OPAL_SERVER_CHECK_H
#define OPAL_SERVER_CHECK_H

#include <grpc/grpc_security.h>
#include <stddef.h>

/* A verifier trusting the certificates of `ca_pem`, or OpenSSL's default
 * roots (the system's: /etc/ssl/certs) when it is NULL. The caller releases
 * it (grpc_tls_certificate_verifier_release); credentials made with it
 * hold a reference of their own. NULL with one line in `err`. */
grpc_tls_certificate_verifier *server_check_create(const char *ca_pem, char *err,
                                                   size_t err_len);

#endif
