/*
 * handler_health.c - liveness (and, with the store, readiness).
 */
#include <jansson.h>

#include "handlers.h"
#include "http.h"

void
handler_healthz(struct request *req)
{
	http_reply_json(&req->res, 200, json_pack("{s:s}", "status", "ok"));
}
