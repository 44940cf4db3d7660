/*
 * server.h - the libmicrohttpd daemon: listening socket, limits, thread
 * pool, request lifecycle. The only module that talks to libmicrohttpd's
 * daemon and connection APIs.
 */
#ifndef JWTGATE_SERVER_H
#define JWTGATE_SERVER_H

#include <stddef.h>

#include "config.h"

struct server;
struct context;

/*
 * Bind the configured address (or take the socket systemd passed), start
 * the worker threads and log "listening on ADDRESS:PORT".
 */
int server_start(struct context *ctx, struct server **out, char *err,
    size_t errlen);
/* Swap in a new context; requests in flight keep the old one. */
void server_set_context(struct server *srv, struct context *ctx);
/*
 * Stop accepting, wait up to grace_ms for requests in flight, call
 * drain(arg) (if not NULL) while connections can still be resumed, stop.
 */
void server_stop(struct server *srv, unsigned grace_ms,
    void (*drain)(void *arg), void           *arg);

#endif
