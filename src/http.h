/*
 * http.h - one HTTP request and its response, as handlers see them: body
 * accumulation with a cap, header and cookie lookup, JSON replies.
 * server.c owns the libmicrohttpd side; handlers never touch it.
 */
#ifndef JWTGATE_HTTP_H
#define JWTGATE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define HTTP_MAX_HEADERS 16

struct MHD_Connection;
struct context;
struct route_entry;
struct user;

struct http_header {
	char *name;
	char *value;
};

struct http_prepared;

struct response {
	unsigned              status; /* 0 until a handler answers */
	char                 *body;
	size_t                body_len;
	bool                  body_static; /* body is not ours to free */
	const char           *content_type;
	struct http_header    headers[HTTP_MAX_HEADERS];
	size_t                nheaders;
	struct http_prepared *prepared; /* answer with this instead (a ref) */
};

struct request {
	struct MHD_Connection    *conn;
	struct context           *ctx;
	const struct route_entry *route; /* NULL: unknown path */
	const char               *method;
	const char               *path; /* decoded, without query */
	char                     *body;
	size_t                    body_len;
	bool                      body_too_large;
	uint64_t                  start_us;
	char                      peer[64]; /* the connected address */
	bool                      peer_trusted;
	char    client[64]; /* peer, or X-Forwarded-For from a trusted peer */
	char   *user;       /* for the access log, or NULL */
	json_t *claims;     /* verified token of a guarded request */
	const struct user *account; /* its user, or NULL */
	struct response    res;
	bool               dispatched;
	bool               async; /* answered later, see http_suspend() */
	bool               queued;
};

const char *http_header(const struct request *req, const char *name);
/* How many headers of each of the n names the request carries (one pass). */
void http_header_counts(const struct request *req, const char *const *names,
    size_t n, unsigned *counts);

/* Is the textual address inside [server] trusted_proxies? */
bool http_trusted(const struct config *cfg, const char *addr);
/*
 * Set req->client: the peer, or from a trusted peer the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy.
 */
void http_client_address(struct request *req);
/* The X-Forwarded-For part of the above, for one header value. */
bool http_xff_pick(const struct config *cfg, const char *value, char *out,
    size_t outlen);

/* Append to the body; past max the body is dropped and marked too large. */
void
http_body_append(struct request *req, const char *data, size_t len, size_t max);

/*
 * Answer later: the connection is parked until http_resume(), which any
 * thread may call once req->res is filled (a password-hash worker does).
 */
void http_suspend(struct request *req);
void http_resume(struct request *req);

/* The media type of the body, lower-cased, without parameters. */
void http_media_type(const struct request *req, char *out, size_t outlen);
/*
 * Parse an application/x-www-form-urlencoded body into an object of
 * strings. NULL when malformed: a bad escape, a NUL, a repeated name.
 */
json_t *http_form_parse(const char *body, size_t len);
/* Parse a JSON object body; duplicate keys and NULs are malformed. */
json_t *http_json_parse(const char *body, size_t len);

void http_set_header(struct response *res, const char *name, const char *value);
/* Answer with JSON; takes the reference to body. */
void http_reply_json(struct response *res, unsigned status, json_t *body);
/* Answer {"status_code": status, "detail": detail}. */
void
http_reply_error(struct response *res, unsigned status, const char *detail);
void http_reply_text(struct response *res, unsigned status,
    const char *content_type, char *body, size_t len);
/* Answer with a constant body (a string that outlives every request). */
void http_reply_static(struct response *res, unsigned status,
    const char *content_type, const char *body, size_t len);
void http_response_free(struct response *res);

/*
 * A response built once and sent many times, from any thread: immutable
 * and reference counted. http_prepare() takes res's status, body and
 * headers (res is left empty); NULL when memory runs out.
 * http_reply_prepared() answers with p and takes the reference given.
 */
struct http_prepared *http_prepare(struct response *res);
struct http_prepared *http_prepared_ref(struct http_prepared *p);
void                  http_prepared_unref(struct http_prepared *p);
void http_reply_prepared(struct response *res, struct http_prepared *p);

/*
 * For server.c: the libmicrohttpd response of res. *owned: a new one, built
 * from res (which gives up its body), for the caller to destroy once
 * queued; else res's prepared one, which res keeps alive.
 */
struct MHD_Response *http_response_mhd(struct response *res, bool *owned);

#endif
