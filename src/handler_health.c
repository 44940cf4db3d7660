/*
 * handler_health.c - liveness (and, with the store, readiness).
 */
#include <jansson.h>

#include "context.h"
#include "handlers.h"
#include "http.h"
#include "metrics.h"
#include "store.h"

void
handler_healthz(struct request *req)
{
	http_reply_json(&req->res, 200, json_pack("{s:s}", "status", "ok"));
}

void
handler_readyz(struct request *req)
{
	if (store_ping(req->ctx->services->store) == -1) {
		http_reply_error(&req->res, 503, "Store unavailable");
		return;
	}
	http_reply_json(&req->res, 200, json_pack("{s:s}", "status", "ready"));
}

void
handler_metrics(struct request *req)
{
	size_t len;
	char  *text = metrics_render(&len);

	http_reply_text(&req->res, 200,
	    "text/plain; version=0.0.4; charset=utf-8", text, len);
}
