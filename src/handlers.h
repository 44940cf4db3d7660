/*
 * handlers.h - one function per endpoint; each fills req->res.
 */
#ifndef JWTGATE_HANDLERS_H
#define JWTGATE_HANDLERS_H

struct request;

void handler_healthz(struct request *req);

#endif
