/*
 * http.c - request and response helpers shared by every handler.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "xmalloc.h"

const char *
http_header(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static bool
http_cidr_match(const struct cidr *c, const uint8_t *addr)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

bool
http_trusted(const struct config *cfg, const char *addr)
{
	uint8_t buf[16];
	int     family;
	size_t  i;

	if (inet_pton(AF_INET, addr, buf) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		family = AF_INET6;
	else
		return false;
	/* An IPv4-mapped IPv6 peer is judged as the IPv4 address it is. */
	if (family == AF_INET6 &&
	    memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(buf, buf + 12, 4);
		family = AF_INET;
	}
	for (i = 0; i < cfg->server.ntrusted_proxies; i++) {
		const struct cidr *c = &cfg->server.trusted_proxies[i];

		if (c->family == family && http_cidr_match(c, buf))
			return true;
	}
	return false;
}

/*
 * From one X-Forwarded-For value, the right-most entry that is not a
 * trusted proxy. A malformed entry ends the walk: what lies left of it
 * cannot be trusted, so the caller keeps the peer address.
 */
bool
http_xff_pick(const struct config *cfg, const char *value, char *out,
    size_t outlen)
{
	char  *copy = xstrdup(value);
	char **items = NULL, *tok, *save;
	size_t n = 0;
	bool   found = false;

	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		items = xreallocarray(items, n + 1, sizeof *items);
		items[n++] = tok;
	}
	while (n-- > 0) {
		char   *item = items[n];
		size_t  len;
		uint8_t buf[16];

		while (isspace((unsigned char)*item))
			item++;
		len = strlen(item);
		while (len > 0 && isspace((unsigned char)item[len - 1]))
			item[--len] = '\0';
		if (inet_pton(AF_INET, item, buf) != 1 &&
		    inet_pton(AF_INET6, item, buf) != 1)
			break;
		if (!http_trusted(cfg, item)) {
			/* One spelling per address: bans and logs key on it. */
			if (inet_pton(AF_INET, item, buf) == 1)
				inet_ntop(AF_INET, buf, out, (socklen_t)outlen);
			else
				inet_ntop(AF_INET6, buf, out,
				    (socklen_t)outlen);
			found = true;
			break;
		}
	}
	free(items);
	free(copy);
	return found;
}

struct http_count {
	const char *const *names;
	size_t             n;
	unsigned          *counts;
};

static enum MHD_Result
http_count_one(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_count *c = cls;
	size_t             i;

	(void)kind;
	(void)value;
	for (i = 0; i < c->n; i++)
		if (strcasecmp(key, c->names[i]) == 0)
			c->counts[i]++;
	return MHD_YES;
}

void
http_header_counts(const struct request *req, const char *const *names,
    size_t n, unsigned *counts)
{
	struct http_count c = {names, n, counts};

	memset(counts, 0, n * sizeof *counts);
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, http_count_one,
	    &c);
}

/* Every X-Forwarded-For header, joined in order as RFC 7230 3.2.2 says. */
struct http_xff {
	char *joined;
	bool  malformed; /* a NUL inside a value */
};

static enum MHD_Result
http_xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct http_xff *x = cls;
	char            *joined;

	(void)kind;
	(void)key_size;
	if (strcasecmp(key, "X-Forwarded-For") != 0 || value == NULL)
		return MHD_YES;
	if (strlen(value) != value_size) {
		x->malformed = true;
		return MHD_YES;
	}
	if (x->joined == NULL)
		x->joined = xstrdup(value);
	else {
		xasprintf(&joined, "%s, %s", x->joined, value);
		free(x->joined);
		x->joined = joined;
	}
	return MHD_YES;
}

void
http_client_address(struct request *req)
{
	struct http_xff x = {NULL, false};

	_Static_assert(sizeof req->client == sizeof req->peer, "client = peer");
	memcpy(req->client, req->peer, sizeof req->client);
	if (!req->peer_trusted)
		return;
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND,
	    http_xff_collect, &x);
	if (x.joined != NULL && !x.malformed)
		http_xff_pick(req->ctx->cfg, x.joined, req->client,
		    sizeof req->client);
	free(x.joined);
}

void
http_body_append(struct request *req, const char *data, size_t len, size_t max)
{
	if (req->body_too_large)
		return;
	if (len > max || req->body_len > max - len) {
		req->body_too_large = true;
		free(req->body);
		req->body = NULL;
		req->body_len = 0;
		return;
	}
	/* One allocation of the final size would need Content-Length; grow. */
	req->body = xrealloc(req->body, req->body_len + len + 1);
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
}

void
http_suspend(struct request *req)
{
	req->async = true;
	MHD_suspend_connection(req->conn);
}

void
http_resume(struct request *req)
{
	MHD_resume_connection(req->conn);
}

void
http_media_type(const struct request *req, char *out, size_t outlen)
{
	const char *ct = http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t      i = 0;

	if (ct != NULL) {
		while (*ct == ' ' || *ct == '\t')
			ct++;
		for (; ct[i] != '\0' && ct[i] != ';' && ct[i] != ' ' &&
		     i + 1 < outlen;
		     i++)
			out[i] = (char)tolower((unsigned char)ct[i]);
	}
	out[i] = '\0';
}

static int
http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode one form component in place; -1 on a bad escape or a NUL. */
static int
http_form_decode(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*w++ = ' ';
		else if (*s == '%') {
			int hi = http_hexval((unsigned char)s[1]);
			int lo = hi < 0 ? -1 : http_hexval((unsigned char)s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else
			*w++ = *s;
	}
	*w = '\0';
	return 0;
}

json_t *
http_form_parse(const char *body, size_t len)
{
	json_t *form = json_object();
	char   *copy, *pair, *save;

	if (body == NULL)
		return form;
	if (memchr(body, '\0', len) != NULL) {
		json_decref(form);
		return NULL;
	}
	copy = xstrndup(body, len);
	for (pair = strtok_r(copy, "&", &save); pair != NULL;
	     pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		char *value = eq != NULL ? eq + 1 : pair + strlen(pair);

		if (eq != NULL)
			*eq = '\0';
		if (http_form_decode(pair) == -1 ||
		    http_form_decode(value) == -1 || *pair == '\0' ||
		    json_object_get(form, pair) != NULL ||
		    json_object_set_new(form, pair, json_string(value)) == -1) {
			/* json_string() refuses invalid UTF-8 as well. */
			json_decref(form);
			form = NULL;
			break;
		}
	}
	free(copy);
	return form;
}

json_t *
http_json_parse(const char *body, size_t len)
{
	json_t      *j;
	json_error_t e;

	if (body == NULL || len == 0)
		return NULL;
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

void
http_set_header(struct response *res, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < res->nheaders; i++) {
		if (strcasecmp(res->headers[i].name, name) == 0) {
			free(res->headers[i].value);
			res->headers[i].value = xstrdup(value);
			return;
		}
	}
	if (res->nheaders == HTTP_MAX_HEADERS)
		abort(); /* a programming error: the table is sized for us */
	res->headers[res->nheaders].name = xstrdup(name);
	res->headers[res->nheaders].value = xstrdup(value);
	res->nheaders++;
}

static void
http_set_body(struct response *res, unsigned status, const char *type,
    char *body, size_t len)
{
	if (!res->body_static)
		free(res->body);
	res->status = status;
	res->content_type = type;
	res->body = body;
	res->body_len = len;
	res->body_static = false;
}

void
http_reply_json(struct response *res, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(body);
	if (text == NULL)
		abort(); /* jansson fails only on allocation */
	http_set_body(res, status, "application/json", text, strlen(text));
}

void
http_reply_error(struct response *res, unsigned status, const char *detail)
{
	http_reply_json(res, status,
	    json_pack("{s:i, s:s}", "status_code", (int)status, "detail",
	        detail));
}

void
http_reply_text(struct response *res, unsigned status, const char *type,
    char *body, size_t len)
{
	http_set_body(res, status, type, body, len);
}

void
http_reply_static(struct response *res, unsigned status, const char *type,
    const char *body, size_t len)
{
	http_set_body(res, status, type, (char *)body, len);
	res->body_static = true;
}

void
http_response_free(struct response *res)
{
	size_t i;

	for (i = 0; i < res->nheaders; i++) {
		free(res->headers[i].name);
		free(res->headers[i].value);
	}
	if (!res->body_static)
		free(res->body);
	http_prepared_unref(res->prepared);
	memset(res, 0, sizeof *res);
}

struct http_prepared {
	unsigned             refs; /* atomic */
	unsigned             status;
	struct MHD_Response *mr;
};

/* A new libmicrohttpd response with res's body (given up) and headers. */
static struct MHD_Response *
http_build(struct response *res)
{
	struct MHD_Response *mr;
	size_t               i;

	mr = MHD_create_response_from_buffer(res->body_len, res->body,
	    res->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
	if (mr == NULL)
		return NULL;
	res->body = NULL; /* libmicrohttpd frees it */
	res->body_len = 0;
	res->body_static = false;
	if (res->content_type != NULL)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
		    res->content_type);
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	for (i = 0; i < res->nheaders; i++)
		MHD_add_response_header(mr, res->headers[i].name,
		    res->headers[i].value);
	return mr;
}

struct MHD_Response *
http_response_mhd(struct response *res, bool *owned)
{
	*owned = res->prepared == NULL;
	return *owned ? http_build(res) : res->prepared->mr;
}

struct http_prepared *
http_prepare(struct response *res)
{
	struct http_prepared *p = xcalloc(1, sizeof *p);
	unsigned              status = res->status;

	p->mr = http_build(res);
	http_response_free(res);
	if (p->mr == NULL) {
		free(p);
		return NULL;
	}
	p->refs = 1;
	p->status = status;
	return p;
}

struct http_prepared *
http_prepared_ref(struct http_prepared *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void
http_prepared_unref(struct http_prepared *p)
{
	if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	/* Answers still being sent hold libmicrohttpd's own references. */
	MHD_destroy_response(p->mr);
	free(p);
}

void
http_reply_prepared(struct response *res, struct http_prepared *p)
{
	http_response_free(res);
	res->status = p->status;
	res->prepared = p;
}
