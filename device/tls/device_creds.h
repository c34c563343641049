/* The TLS credentials of the devices this process runs, made once at
 * start-up from the connection flags: for one device, or for each of a
 * fleet's (--tls-cert-dir: device i presents DIR/PREFIX-i.crt and
 * DIR/PREFIX-i.key). Without a client certificate every device shares one
 * set of credentials; without --tls-ca there are none (plaintext). */
#ifndef OPAL_DEVICE_CREDS_H
#define OPAL_DEVICE_CREDS_H

#include <grpc/grpc_security.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tls_flags {
  const char *ca;          /* --tls-ca FILE or "system"; NULL: plaintext */
  const char *cert, *key;  /* --tls-cert, --tls-key: one device's */
  const char *cert_dir;    /* --tls-cert-dir: a fleet's */
} tls_flags;

typedef struct device_creds device_creds;

/* Reads and checks every file the flags name and makes the credentials of
 * `count` devices, ids PREFIX-0 .. (with cert_dir; `id_prefix` is unused
 * otherwise). NULL with one line in `err` ("--tls-cert-dir
 * certs/fleet-7.crt: No such file or directory"). The caller owns the
 * result; device_creds_close after every connection using it is gone. */
device_creds *device_creds_open(const tls_flags *flags, const char *id_prefix, unsigned count,
                                char *err, size_t err_len);

/* Device i's credentials (borrowed), or NULL for plaintext. */
grpc_channel_credentials *device_creds_get(const device_creds *c, unsigned i);

/* True when the credentials present a certificate (mutual TLS). */
bool device_creds_client_cert(const device_creds *c);

/* NULL is allowed. */
void device_creds_close(device_creds *c);

#endif
