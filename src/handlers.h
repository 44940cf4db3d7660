/*
 * handlers.h - one function per endpoint; each fills req->res.
 */
#ifndef JWTGATE_HANDLERS_H
#define JWTGATE_HANDLERS_H

struct request;
struct verify_cache;

/* /verify's answers already built (see handler_verify.c); one per context. */
struct verify_cache *verify_cache_new(void);
void                 verify_cache_free(struct verify_cache *c);

void handler_login(struct request *req);
void handler_token(struct request *req);
void handler_logout(struct request *req);
void handler_me(struct request *req);
void handler_verify(struct request *req);
void handler_jwks(struct request *req);
void handler_oauth_metadata(struct request *req);
void handler_openapi(struct request *req);
void handler_healthz(struct request *req);
void handler_readyz(struct request *req);
void handler_metrics(struct request *req);

#endif
