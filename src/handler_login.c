/*
 * handler_login.c - POST /login and the password grant of POST /token.
 *
 * The password hash is verified on the hash pool while the connection is
 * suspended, so slow hashing never holds an HTTP thread. Unknown users are
 * verified against a dummy hash of the same cost and disabled users are
 * verified and then refused: all failures take the same time and get the
 * same answer.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "context.h"
#include "handlers.h"
#include "hashpool.h"
#include "http.h"
#include "issue.h"
#include "log.h"
#include "login.h"
#include "metrics.h"
#include "regulation.h"
#include "users.h"
#include "xmalloc.h"

struct login_job {
	struct request    *req;
	const struct user *user; /* NULL: unknown */
	char              *username;
	char              *scope; /* /token: requested scope, or NULL */
	login_done_fn      done;
};

/* 429 with Retry-After, in the caller's error style. */
static void
login_banned(struct request *req, int64_t retry_after, bool oauth)
{
	char v[32];

	if (oauth)
		http_reply_json(&req->res, 429,
		    json_pack("{s:s, s:s}", "error", "invalid_grant",
		        "error_description",
		        "Too many failed logins; try again later"));
	else
		http_reply_error(&req->res, 429, "Too Many Requests");
	snprintf(v, sizeof v, "%lld",
	    (long long)(retry_after > 0 ? retry_after : 1));
	http_set_header(&req->res, "Retry-After", v);
}

/* 503 when the store cannot say whether a ban holds (never a silent
 * allow), in the caller's error style. */
static void
login_unavailable(struct request *req, bool oauth)
{
	if (oauth) {
		http_reply_json(&req->res, 503,
		    json_pack("{s:s, s:s}", "error", "temporarily_unavailable",
		        "error_description", "Store unavailable"));
		http_set_header(&req->res, "Cache-Control", "no-store");
		http_set_header(&req->res, "Pragma", "no-cache");
	} else
		http_reply_error(&req->res, 503, "Service Unavailable");
	http_set_header(&req->res, "Retry-After", "1");
}

/* On a hash worker: judge the result, answer, resume the connection. */
static void
login_verified(void *arg, int result)
{
	struct login_job *job = arg;
	struct request   *req = job->req;
	struct services  *sv = req->ctx->services;
	bool ok = result == 1 && job->user != NULL && !job->user->disabled;
	int  bans;

	if (result == -1 && job->user != NULL)
		log_warn("user %s: stored password hash cannot be verified",
		    job->user->name);
	metrics_login(ok ? METRICS_LOGIN_SUCCESS : METRICS_LOGIN_FAILURE);
	if (ok) {
		regulation_success(sv->regulation, job->username, req->client,
		    clock_now());
		free(req->user);
		req->user = xstrdup(job->username);
	} else if ((bans = regulation_fail(sv->regulation, job->username,
	                req->client, clock_now())) == -1) {
		log_error("login: store: failure of user %s from %s not "
		          "counted",
		    job->username, req->client);
	} else if (bans != 0) {
		metrics_bans(((bans & REGULATION_BANNED_USER) != 0) +
		    ((bans & REGULATION_BANNED_ADDR) != 0));
		if (bans & REGULATION_BANNED_USER)
			log_warn("login: banning user %s (too many failed "
			         "logins; the last from %s)",
			    job->username, req->client);
		if (bans & REGULATION_BANNED_ADDR)
			log_warn("login: banning address %s (too many failed "
			         "logins; the last as user %s)",
			    req->client, job->username);
	}
	job->done(req, ok ? job->user : NULL, job->scope);
	http_resume(req);
	free(job->username);
	free(job->scope);
	free(job);
}

void
login_start(struct request *req, const char *username, const char *password,
    const char *scope, bool oauth, login_done_fn done)
{
	struct context   *ctx = req->ctx;
	struct services  *sv = ctx->services;
	struct login_job *job;
	const char       *hash;
	int64_t           retry;

	switch (regulation_check(sv->regulation, username, req->client,
	    clock_now(), &retry)) {
	case 0: break;
	case 1:
		metrics_login(METRICS_LOGIN_BANNED);
		login_banned(req, retry, oauth);
		return;
	default:
		log_error("login: store: cannot check bans (client %s)",
		    req->client);
		login_unavailable(req, oauth);
		return;
	}
	job = xcalloc(1, sizeof *job);
	job->req = req;
	job->user = users_find(ctx->users, username);
	job->username = xstrdup(username);
	job->scope = scope != NULL ? xstrdup(scope) : NULL;
	job->done = done;
	hash =
	    job->user != NULL ? job->user->hash : users_dummy_hash(ctx->users);
	http_suspend(req);
	if (hashpool_submit(sv->pool, hash, password, login_verified, job) ==
	    -1) {
		log_warn("login: hash queue full");
		http_reply_error(&req->res, 503, "Service Unavailable");
		http_set_header(&req->res, "Retry-After", "1");
		free(job->username);
		free(job->scope);
		free(job);
		http_resume(req);
	}
}

/* The body of a successful login, per [login] response_body. */
static json_t *
login_body(struct context *ctx, const struct user *user,
    const struct issued *is)
{
	const struct config *cfg = ctx->cfg;
	enum login_body      mode = cfg->login.response_body;

	if (mode == LOGIN_BODY_DEFAULT)
		mode = cfg->auth.backend == BACKEND_OAUTH2 ? LOGIN_BODY_OAUTH2
		                                           : LOGIN_BODY_NULL;
	switch (mode) {
	case LOGIN_BODY_TOKEN: return json_pack("{s:s}", "token", is->access);
	case LOGIN_BODY_OAUTH2: return issue_oauth2_body(is, 0);
	case LOGIN_BODY_USER:
		return json_pack("{s:s, s:s?, s:s?, s:o}", "sub", user->name,
		    "name", user->display_name, "email", user->email, "roles",
		    issue_json_list(&user->roles));
	default: return json_null();
	}
}

void
login_reply(struct request *req, const struct user *user, const char *scope)
{
	struct context       *ctx = req->ctx;
	const struct config  *cfg = ctx->cfg;
	const struct backend *be = backend_get(cfg->auth.backend);
	struct issued         is;
	bool                  oauth;

	(void)scope;
	if (user == NULL) {
		http_reply_error(&req->res, 401, "Invalid credentials");
		return;
	}
	oauth = cfg->login.response_body == LOGIN_BODY_OAUTH2 ||
	    (cfg->login.response_body == LOGIN_BODY_DEFAULT &&
	        cfg->auth.backend == BACKEND_OAUTH2);
	switch (issue_tokens(ctx, user, NULL,
	    oauth && cfg->oauth2.refresh_tokens, NULL, &is)) {
	case 0: break;
	case ISSUE_STORE:
		http_reply_error(&req->res, 503, "Service Unavailable");
		http_set_header(&req->res, "Retry-After", "1");
		return;
	default:
		http_reply_error(&req->res, 500, "Internal Server Error");
		return;
	}
	http_reply_json(&req->res, cfg->login.status,
	    login_body(ctx, user, &is));
	be->deliver(&req->res, cfg, is.access, cfg->token.ttl);
	http_set_header(&req->res, "Cache-Control", "no-store");
	issued_free(&is);
}

/* Wipe what the body held of the password before it is freed. */
static void
login_wipe(struct request *req, json_t *fields)
{
	const char *pw = json_string_value(json_object_get(fields, "password"));

	if (pw != NULL)
		explicit_bzero((char *)pw, strlen(pw));
	if (req->body != NULL)
		explicit_bzero(req->body, req->body_len);
}

void
handler_login(struct request *req)
{
	char        type[64];
	json_t     *fields;
	const char *user, *pw;

	http_media_type(req, type, sizeof type);
	if (strcmp(type, "application/json") == 0)
		fields = http_json_parse(req->body, req->body_len);
	else if (strcmp(type, "application/x-www-form-urlencoded") == 0)
		fields = http_form_parse(req->body, req->body_len);
	else {
		http_reply_error(&req->res, 415, "Unsupported Media Type");
		return;
	}
	if (fields == NULL) {
		login_wipe(req, NULL);
		http_reply_error(&req->res, 400, "Malformed request body");
		return;
	}
	user = json_string_value(json_object_get(fields, "username"));
	pw = json_string_value(json_object_get(fields, "password"));
	if (user == NULL || pw == NULL || *user == '\0') {
		login_wipe(req, fields);
		json_decref(fields);
		http_reply_error(&req->res, 400,
		    "username and password are required strings");
		return;
	}
	login_start(req, user, pw, NULL, false, login_reply);
	login_wipe(req, fields);
	json_decref(fields);
}
