/*
 * handler_wellknown.c - what jwtgate publishes about itself: JWKS, RFC 8414
 * authorization-server metadata and the OpenAPI document.
 */
#include "autoconf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "context.h"
#include "handlers.h"
#include "http.h"
#include "issue.h"
#include "keys.h"
#include "xmalloc.h"

void
handler_jwks(struct request *req)
{
	http_reply_json(&req->res, 200, keys_jwks(req->ctx->keys));
	http_set_header(&req->res, "Cache-Control", "public, max-age=300");
}

void
handler_oauth_metadata(struct request *req)
{
	const struct config *cfg = req->ctx->cfg;
	const char          *base = cfg->server.public_url;
	json_t              *grants;
	char                *token_ep, *jwks;

	if (base == NULL) {
		http_reply_error(&req->res, 404, "Not Found");
		return;
	}
	grants = json_array();
	if (cfg->oauth2.password_grant)
		json_array_append_new(grants, json_string("password"));
	if (cfg->oauth2.refresh_tokens)
		json_array_append_new(grants, json_string("refresh_token"));
	xasprintf(&token_ep, "%s/token", base);
	xasprintf(&jwks, "%s/.well-known/jwks.json", base);
	/*
	 * RFC 8414 requires response_types_supported; with no authorization
	 * endpoint (password and refresh grants only) the list is empty.
	 */
	http_reply_json(&req->res, 200,
	    json_pack("{s:s, s:s, s:s, s:o, s:o, s:[s], s:[]}", "issuer",
	        cfg->token.issuer != NULL ? cfg->token.issuer : base,
	        "token_endpoint", token_ep, "jwks_uri", jwks,
	        "grant_types_supported", grants, "scopes_supported",
	        issue_json_list(&cfg->oauth2.scopes),
	        "token_endpoint_auth_methods_supported", "none",
	        "response_types_supported"));
	free(token_ep);
	free(jwks);
}

static json_t *
openapi_error(const char *description)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", description,
	    "content", "application/json", "schema", "$ref",
	    "#/components/schemas/Error");
}

static json_t *
openapi_json_body(const char *ref)
{
	return json_pack("{s:{s:{s:s}}}", "application/json", "schema", "$ref",
	    ref);
}

/* clang-format off: the document's shape is easier read as written */
static json_t *
openapi_paths(void)
{
	json_t *secured = json_pack("[{s:[]}]", "BearerToken");
	json_t *login_req = json_pack("{s:b, s:{s:{s:{s:s}}, s:{s:{s:s}}}}",
	    "required", 1, "content", "application/json", "schema", "$ref",
	    "#/components/schemas/Login", "application/x-www-form-urlencoded",
	    "schema", "$ref", "#/components/schemas/Login");
	json_t *token_req = json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1,
	    "content", "application/x-www-form-urlencoded", "schema", "$ref",
	    "#/components/schemas/TokenRequest");

	json_t *paths = json_pack(
	    "{"
	    "s:{s:{s:s, s:s, s:o, s:{s:{s:s}, s:o, s:o, s:o, s:o, s:o}}},"
	    "s:{s:{s:s, s:s, s:o, s:{s:{s:s, s:o}, s:{s:s, s:o}}}},"
	    "s:{s:{s:s, s:s, s:O, s:{s:{s:s}, s:o}}},"
	    "s:{s:{s:s, s:s, s:O, s:{s:{s:s}, s:o}}},"
	    "s:{s:{s:s, s:s, s:O, s:{s:{s:s}, s:o, s:o}}},"
	    "s:{s:{s:s, s:s, s:{s:{s:s}}}},"
	    "s:{s:{s:s, s:s, s:{s:{s:s}}}},"
	    "s:{s:{s:s, s:s, s:{s:{s:s}, s:{s:s}}}},"
	    "s:{s:{s:s, s:s, s:{s:{s:s}, s:{s:s}}}},"
	    "s:{s:{s:s, s:s, s:{s:{s:s}}}}"
	    "}",
	    "/login", "post", "operationId", "login", "summary",
	    "Log in with a user name and password", "requestBody", login_req,
	    "responses", "201", "description",
	    "Logged in; the token is in the header (and cookie)", "400",
	    openapi_error("Malformed body"), "401",
	    openapi_error("Invalid credentials"), "413",
	    openapi_error("Body too large"), "415",
	    openapi_error("Unsupported media type"), "429",
	    openapi_error("Too many failed logins"), "/token", "post",
	    "operationId", "token", "summary",
	    "OAuth2 token endpoint (password and refresh_token grants)",
	    "requestBody", token_req, "responses", "200", "description",
	    "Tokens", "content",
	    openapi_json_body("#/components/schemas/TokenResponse"), "400",
	    "description", "RFC 6749 error", "content",
	    openapi_json_body("#/components/schemas/OAuth2Error"), "/logout",
	    "post", "operationId", "logout", "summary",
	    "Revoke the presented token", "security", secured, "responses",
	    "200", "description", "Logged out", "401",
	    openapi_error("Missing or invalid token"), "/me", "get",
	    "operationId", "me", "summary", "The current user", "security",
	    secured, "responses", "200", "description", "The user", "401",
	    openapi_error("Missing or invalid token"), "/verify", "get",
	    "operationId", "verify", "summary",
	    "Forward authentication for reverse proxies (any method)",
	    "security", secured, "responses", "200", "description", "Allowed",
	    "401", openapi_error("Missing or invalid token"), "403",
	    openapi_error("Role or scope missing"), "/.well-known/jwks.json",
	    "get", "operationId", "jwks", "summary", "Public keys", "responses",
	    "200", "description", "JWK set",
	    "/.well-known/oauth-authorization-server", "get", "operationId",
	    "oauthMetadata", "summary", "RFC 8414 metadata", "responses", "200",
	    "description", "Metadata", "/healthz", "get", "operationId",
	    "healthz", "summary", "Liveness", "responses", "200", "description",
	    "Serving", "503", "description", "Not serving", "/readyz", "get",
	    "operationId", "readyz", "summary", "Readiness", "responses", "200",
	    "description", "Ready", "503", "description", "Store unavailable",
	    "/openapi.json", "get", "operationId", "openapi", "summary",
	    "This document", "responses", "200", "description", "OpenAPI 3.1");
	json_decref(secured);
	if (paths == NULL)
		abort(); /* the format above is wrong: a programming error */
	return paths;
}

static json_t *
openapi_schemas(void)
{
	return json_pack(
	    "{"
	    "s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}}},"
	    "s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}},"
	    "s:{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}},"
	    "s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}}},"
	    "s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}}}"
	    "}",
	    "Login", "type", "object", "required", "username", "password",
	    "properties", "username", "type", "string", "password", "type",
	    "string", "TokenRequest", "type", "object", "required",
	    "grant_type", "properties", "grant_type", "type", "string",
	    "username", "type", "string", "password", "type", "string",
	    "refresh_token", "type", "string", "scope", "type", "string",
	    "TokenResponse", "type", "object", "required", "access_token",
	    "token_type", "expires_in", "properties", "access_token", "type",
	    "string", "token_type", "type", "string", "expires_in", "type",
	    "integer", "refresh_token", "type", "string", "scope", "type",
	    "string", "OAuth2Error", "type", "object", "required", "error",
	    "properties", "error", "type", "string", "error_description",
	    "type", "string", "Error", "type", "object", "required",
	    "status_code", "detail", "properties", "status_code", "type",
	    "integer", "detail", "type", "string");
}

/* clang-format on */

void
handler_openapi(struct request *req)
{
	const struct config *cfg = req->ctx->cfg;
	json_t *scheme = backend_get(cfg->auth.backend)->openapi(cfg);

	http_reply_json(&req->res, 200,
	    json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o, s:{s:o}}}", "openapi",
	        "3.1.0", "info", "title", "jwtgate", "version", PACKAGE_VERSION,
	        "paths", openapi_paths(), "components", "schemas",
	        openapi_schemas(), "securitySchemes", "BearerToken", scheme));
}
