/* The server's TLS: gRPC server credentials made from --tls-cert and
 * --tls-key (and --client-ca for mutual TLS), one per worker, all fed by
 * one set of files. The files are read again on SIGHUP, and when they
 * change on disk (looked at once a second): new connections then get the
 * new certificate, and calls already open stay up. A renewal that does not
 * check out (a key that does not match, say) is logged, and the current
 * certificate is kept.
 *
 * Threads: server_tls_open and server_tls_close on the main thread;
 * server_tls_poll on any loop thread; gRPC calls the credentials' fetcher
 * on its own threads. A lock inside keeps them apart. */
#ifndef OPAL_SERVER_TLS_H
#define OPAL_SERVER_TLS_H

#include <grpc/grpc_security.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "security/tls_files.h"

typedef struct server_tls server_tls;

/* Reads and checks the files (tls_files.h). `reloads` counts the reload
 * requests (SIGHUP); borrowed, it outlives the result. NULL with one line
 * in `err`. The caller owns the result; server_tls_close after every gRPC
 * server made with it is destroyed. */
server_tls *server_tls_open(const tls_paths *paths, const volatile sig_atomic_t *reloads,
                            char *err, size_t err_len);

/* New credentials for one gRPC server (the caller releases them once the
 * server has its port). */
grpc_server_credentials *server_tls_credentials(server_tls *t);

/* True with --client-ca: every device presents a verified certificate. */
bool server_tls_verifies_clients(const server_tls *t);

/* Reads the files again if a reload was asked for or they changed. */
void server_tls_poll(server_tls *t);

void server_tls_close(server_tls *t);

#endif
