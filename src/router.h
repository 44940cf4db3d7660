/*
 * router.h - the const table of jwtgate's own endpoints.
 */
#ifndef JWTGATE_ROUTER_H
#define JWTGATE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct request;

typedef void (*handler_fn)(struct request *req);

struct route_entry {
	const char *path;
	const char *methods; /* comma-separated; NULL: any method */
	handler_fn  handler;
	bool        guarded; /* needs a valid token */
};

/*
 * Answer a complete request: 413, 404, OPTIONS, 405 or the endpoint's
 * handler. Always leaves a response in req->res.
 */
void router_dispatch(struct request *req);

/* The table's size, entry paths, and an entry's index (count for NULL). */
size_t      router_count(void);
const char *router_path(size_t i);
size_t      router_index(const struct route_entry *e);

/* The entry for an exact path, or NULL (404). */
const struct route_entry *router_find(const char *path);
bool router_allows(const struct route_entry *e, const char *method);
/* The Allow header value for the entry (with OPTIONS when excluded). */
void router_allow_header(const struct route_entry *e, bool with_options,
    char *buf, size_t len);

#endif
