/* opal-server --workers K: K servers in one process, each with its own loop
 * thread, completion queue, devices and store connection, all served by
 * one listener (server/net/listener.h), which hands each connection, so each
 * device's three calls, to the next worker in turn. Exactly one worker serves a device: the
 * worker a device's new connection reaches claims it (server/owners.h), and
 * the worker that had it ends its calls there and hands its record over by
 * message, so a device keeps its mode whichever worker it reaches, with any
 * store, "memory" included. Nothing is locked on the streaming path: a
 * worker's devices are its own thread's. */
#ifndef OPAL_WORKERS_H
#define OPAL_WORKERS_H

#include <stddef.h>

#include "net/listener.h"
#include "server.h"

typedef struct worker_set worker_set;

/* `count` workers, each with its own connection to the store at `url`, all
 * one replica named `replica` to other processes sharing the store. NULL
 * with one line in `err` when the store cannot be opened. The caller owns
 * the result and frees it with workers_free. */
worker_set *workers_open(unsigned count, const char *url, const char *replica, char *err,
                         size_t err_len);

/* The first worker's store, for the log's "store" line. */
const char *workers_store_name(const worker_set *set);

/* Starts every worker with `config`, then `listener` (opened, borrowed)
 * with `connections`, serves until a stop signal and joins them. 0, or 1
 * with the reason on stderr. */
int workers_run(worker_set *set, const server_config *config, listener *listener,
                connections *connections);

void workers_free(worker_set *set);

#endif
