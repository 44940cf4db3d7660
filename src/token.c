/*
 * token.c - issue and verify JWTs (SPEC section 6). The only includer of
 * <jwt.h>.
 *
 * Verification does not go through libjwt. jwt_decode() in libjwt 1.10.2
 * (Debian bookworm) skips the signature when given a NULL key, matches
 * "alg" case-insensitively, decodes base64url with libb64, which drops
 * characters it does not know, parses JSON that may repeat a key (the last
 * one wins), trusts the token's "alg" to pick HMAC or RSA for a key given as
 * bytes, and re-reads the PEM key on every call, which costs more than the
 * RSA or ECDSA verification itself. So jwtgate parses the token itself,
 * strictly, in the order of SPEC section 6, and checks the signature with
 * the key objects keys.c built once at load (keys_verify()): the key's own
 * algorithm decides how, never the token. Each guard against those traps
 * is named in a comment below and has a test in tests/check_token.c.
 *
 * Issuing does go through libjwt, where it is sound: the header and claims
 * are jwtgate's own, the algorithm and key are given explicitly, and every
 * token is checked by this file's verifier before it leaves (steps 1-3), so
 * a fault in libjwt's encoding costs an error, never a bad token.
 *
 * ECDSA high-S: an ECDSA signature (r, s) has a twin (r, n - s) that
 * verifies as well. Both are accepted: JWS (RFC 7518 3.4) does not ask for
 * low-S, OpenSSL and PyJWT do not produce low-S, so refusing high S would
 * refuse about half of all honest ES tokens. Nothing in jwtgate identifies
 * a token by its bytes or its signature (revocation is by "jti"), so a
 * twin grants nothing the original did not. tests/check_token.c pins this.
 */
#include "token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include "b64url.h"
#include "log.h"
#include "xmalloc.h"

#define TOKEN_JTI_MAX    256  /* bytes; the store keeps no longer ids */
#define TOKEN_SIG_MAX    1024 /* bytes; keys.c refuses larger keys */
#define TOKEN_HDR_STACK  512  /* decoded header bytes kept on the stack */
#define TOKEN_PAY_STACK  2048 /* decoded payload bytes kept on the stack */
#define TOKEN_JTI_BYTES  16   /* 128 random bits */
#define TOKEN_MEMO_SLOTS 1024 /* tokens remembered, with their claims */
#define TOKEN_MEMO_LOCKS 64

/*
 * Tokens this verifier has fully verified, kept whole with their parsed
 * claims. The same bytes need neither a second signature check nor a second
 * JSON parse: only the claims' values (expiry, not before, issuer,
 * audience, required claims) are judged again, on every call, so an expired
 * or not-yet-valid token is refused as before, and the caller checks
 * revocation on every request. A token is found only if every one of its
 * bytes equals a stored one (compared in constant time), and only successes
 * are stored, so nothing a client sends can make a bad token pass; a reload
 * builds a new verifier and so starts empty. The slot is chosen by the last
 * bytes of the token, its signature: as good as random for the tokens that
 * get stored, and free to compute. The claims are shared read-only (jansson
 * counts references atomically); direct-mapped, so memory stays bounded
 * (TOKEN_MEMO_SLOTS tokens of at most max_token_bytes).
 */
struct token_memo_slot {
	char   *token; /* NULL: empty */
	size_t  len;
	json_t *claims;
};

struct token_memo {
	pthread_mutex_t        lock[TOKEN_MEMO_LOCKS];
	struct token_memo_slot slot[TOKEN_MEMO_SLOTS];
};

struct token_verifier {
	const struct config  *cfg;
	const struct keyring *keys;
	const char           *alg; /* the configured name, e.g. "HS256" */
	size_t                alglen;
	jwt_alg_t             jwt_alg;
	size_t                max_bytes;
	size_t            *siglens; /* distinct signature sizes of the keys */
	size_t             nsiglens;
	struct token_memo *memo;
};

/* Claims that token_issue() sets itself; -C and p->claims may not. */
static const char *const token_reserved[] = {
    "sub",
    "exp",
    "iat",
    "iss",
    "aud",
    "jti",
    "scope",
    "extras",
};

static jwt_alg_t
token_jwt_alg(enum token_alg alg)
{
	switch (alg) {
	case ALG_HS256: return JWT_ALG_HS256;
	case ALG_HS384: return JWT_ALG_HS384;
	case ALG_HS512: return JWT_ALG_HS512;
	case ALG_RS256: return JWT_ALG_RS256;
	case ALG_RS384: return JWT_ALG_RS384;
	case ALG_RS512: return JWT_ALG_RS512;
	case ALG_ES256: return JWT_ALG_ES256;
	case ALG_ES384: return JWT_ALG_ES384;
	case ALG_ES512: return JWT_ALG_ES512;
	}
	return JWT_ALG_INVAL;
}

struct token_verifier *
token_verifier_new(const struct config *cfg, const struct keyring *keys)
{
	struct token_verifier *v;
	size_t                 i, j, len;

	v = xcalloc(1, sizeof(*v));
	v->cfg = cfg;
	v->keys = keys;
	v->alg = config_alg_name(keys_alg(keys));
	v->alglen = strlen(v->alg);
	v->jwt_alg = token_jwt_alg(keys_alg(keys));
	v->max_bytes = cfg->token.max_token_bytes;
	v->siglens = xcalloc(keys_count(keys), sizeof(*v->siglens));
	for (i = 0; i < keys_count(keys); i++) {
		len = keys_siglen(keys_at(keys, i));
		for (j = 0; j < v->nsiglens && v->siglens[j] != len; j++)
			;
		if (j == v->nsiglens)
			v->siglens[v->nsiglens++] = len;
	}
	if (cfg->token.strict_audience && cfg->token.accepted_audiences.n != 1)
		log_error("token: strict_audience without exactly one "
		          "accepted audience; every token will be refused");
	/* Seed jansson's hash once, before worker threads parse JSON. */
	json_object_seed(0);
	v->memo = xcalloc(1, sizeof *v->memo);
	for (i = 0; i < TOKEN_MEMO_LOCKS; i++)
		pthread_mutex_init(&v->memo->lock[i], NULL);
	return v;
}

void
token_verifier_free(struct token_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < TOKEN_MEMO_LOCKS; i++)
		pthread_mutex_destroy(&v->memo->lock[i]);
	for (i = 0; i < TOKEN_MEMO_SLOTS; i++) {
		free(v->memo->slot[i].token);
		json_decref(v->memo->slot[i].claims);
	}
	free(v->memo);
	free(v->siglens);
	free(v);
}

/* A token cut at its dots. */
struct token_parts {
	const char *seg[3];
	size_t      len[3];
	size_t      signed_len; /* header "." payload */
};

/* Decoded segments; small ones stay on the stack. */
struct token_buf {
	unsigned char  hdr_stack[TOKEN_HDR_STACK];
	unsigned char  pay_stack[TOKEN_PAY_STACK];
	unsigned char  sig[TOKEN_SIG_MAX];
	unsigned char *hdr, *pay;
	size_t         hdrlen, paylen, siglen;
};

static void
token_buf_free(struct token_buf *b)
{
	if (b->hdr != NULL && b->hdr != b->hdr_stack)
		free(b->hdr);
	if (b->pay != NULL && b->pay != b->pay_stack)
		free(b->pay);
}

static int
token_split(const char *t, size_t len, struct token_parts *p)
{
	const char *d1, *d2;

	if ((d1 = memchr(t, '.', len)) == NULL)
		return -1;
	if ((d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t))) == NULL)
		return -1;
	if (memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) != NULL)
		return -1;
	p->seg[0] = t;
	p->len[0] = (size_t)(d1 - t);
	p->seg[1] = d1 + 1;
	p->len[1] = (size_t)(d2 - d1 - 1);
	p->seg[2] = d2 + 1;
	p->len[2] = len - (size_t)(d2 + 1 - t);
	p->signed_len = (size_t)(d2 - t);
	return 0;
}

/* Decode one segment into stack (cap bytes) or, when larger, the heap. */
static int
token_decode_seg(const char *seg, size_t len, unsigned char *stack, size_t cap,
    unsigned char **out, size_t *outlen)
{
	long n;

	*out = B64URL_DECLEN(len) <= cap ? stack : xmalloc(B64URL_DECLEN(len));
	if ((n = b64url_decode(seg, len, *out)) < 0)
		return -1;
	*outlen = (size_t)n;
	return 0;
}

/*
 * Step 1: size, three segments, canonical base64url, signature length.
 * The length cap comes before anything reads the token: a 9 MB token costs
 * one comparison.
 */
static enum token_status
token_step_form(const struct token_verifier *v, const char *token, size_t len,
    struct token_parts *p, struct token_buf *b, const char **why)
{
	size_t i;

	if (token == NULL || len == 0)
		return *why = "empty token", TOKEN_INVALID;
	if (len > v->max_bytes)
		return *why = "token longer than max_token_bytes",
		       TOKEN_INVALID;
	if (token_split(token, len, p) == -1)
		return *why = "not three segments", TOKEN_INVALID;
	/* The signature must have a key's exact length (no empty one). */
	for (i = 0; i < v->nsiglens; i++)
		if (p->len[2] == B64URL_ENCLEN(v->siglens[i]))
			break;
	if (i == v->nsiglens)
		return *why = "signature length fits no key", TOKEN_INVALID;
	/* Strict base64url: no '=', '+', '/', spaces; zero unused bits. */
	if (token_decode_seg(p->seg[0], p->len[0], b->hdr_stack,
	        sizeof(b->hdr_stack), &b->hdr, &b->hdrlen) == -1 ||
	    token_decode_seg(p->seg[1], p->len[1], b->pay_stack,
	        sizeof(b->pay_stack), &b->pay, &b->paylen) == -1 ||
	    b64url_decode(p->seg[2], p->len[2], b->sig) < 0)
		return *why = "segment not canonical base64url", TOKEN_INVALID;
	b->siglen = B64URL_DECLEN(p->len[2]);
	return TOKEN_OK;
}

/* A JSON object without duplicate keys, or NULL. */
static json_t *
token_parse_object(const unsigned char *buf, size_t len)
{
	json_error_t jerr;
	json_t      *obj;

	obj = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj != NULL && !json_is_object(obj)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Step 2: the header pins the algorithm and may name a configured key. */
static enum token_status
token_step_header(const struct token_verifier *v, const struct token_buf *b,
    const struct key **key, const char **why)
{
	json_t           *hdr, *alg, *typ, *kid;
	enum token_status st = TOKEN_INVALID;

	*key = NULL;
	/* jansson with JSON_REJECT_DUPLICATES: one "alg", no last-wins. */
	if ((hdr = token_parse_object(b->hdr, b->hdrlen)) == NULL)
		return *why = "header not a JSON object", TOKEN_INVALID;
	alg = json_object_get(hdr, "alg");
	/* Byte for byte: "hs256", "none", "None", "NONE" are all refused. */
	if (!json_is_string(alg) || json_string_length(alg) != v->alglen ||
	    memcmp(json_string_value(alg), v->alg, v->alglen) != 0) {
		*why = "alg is not the configured algorithm";
		goto out;
	}
	typ = json_object_get(hdr, "typ");
	if (typ != NULL &&
	    (!json_is_string(typ) ||
	        strcmp(json_string_value(typ), "JWT") != 0)) {
		*why = "typ is not JWT";
		goto out;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		*why = "crit header";
		goto out;
	}
	/* "jku", "jwk", "x5u", "x5c" are never read: keys come from keys.c. */
	kid = json_object_get(hdr, "kid");
	if (kid != NULL) {
		if (!json_is_string(kid) ||
		    (*key = keys_find(v->keys, json_string_value(kid),
		         json_string_length(kid))) == NULL) {
			*why = "kid names no configured key";
			goto out;
		}
	}
	st = TOKEN_OK;
out:
	json_decref(hdr);
	return st;
}

/*
 * Step 3: the signature, with the key named by kid or else each configured
 * key in turn (active first), so tokens without kid survive a rotation.
 */
static enum token_status
token_step_signature(const struct token_verifier *v, const char *token,
    const struct token_parts *p, const struct token_buf *b,
    const struct key *key, const char **why)
{
	const struct key *k;
	size_t            i, n = key != NULL ? 1 : keys_count(v->keys);
	int               rc;

	for (i = 0; i < n; i++) {
		k = key != NULL ? key : keys_at(v->keys, i);
		if (keys_siglen(k) != b->siglen)
			continue;
		rc = keys_verify(k, (const unsigned char *)token, p->signed_len,
		    b->sig, b->siglen);
		if (rc == 1)
			return TOKEN_OK;
		if (rc == -1) {
			log_error("token: key %s cannot verify", keys_kid(k));
			return *why = "key unusable", TOKEN_ERROR;
		}
	}
	return *why = "bad signature", TOKEN_INVALID;
}

static size_t
token_memo_index(const char *token, size_t len)
{
	uint64_t h = 0;

	memcpy(&h, token + len - (len < 8 ? len : 8), len < 8 ? len : 8);
	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 54) % TOKEN_MEMO_SLOTS;
}

/*
 * Do the n bytes at a and b match? In constant time for a given n (the
 * length of a token is no secret), a word at a time. Not CRYPTO_memcmp():
 * it goes a byte at a time, and on every /verify of a remembered token it
 * cost 0.17 us of the 8 a request takes (bench/RESULTS.md); this loop has
 * no branch on the data either.
 */
static bool
token_same(const char *a, const char *b, size_t n)
{
	uint64_t x, y, diff = 0;
	size_t   i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		diff |= x ^ y;
	}
	for (; i < n; i++)
		diff |= (uint64_t)((unsigned char)a[i] ^ (unsigned char)b[i]);
	return diff == 0;
}

/* The claims of this token, verified before (a reference), or NULL. */
static json_t *
token_memo_get(struct token_memo *m, const char *token, size_t len)
{
	size_t                  i = token_memo_index(token, len);
	pthread_mutex_t        *l = &m->lock[i % TOKEN_MEMO_LOCKS];
	struct token_memo_slot *sl = &m->slot[i];
	json_t                 *claims = NULL;

	pthread_mutex_lock(l);
	if (sl->token != NULL && sl->len == len &&
	    token_same(sl->token, token, len))
		claims = json_incref(sl->claims);
	pthread_mutex_unlock(l);
	return claims;
}

static void
token_memo_put(struct token_memo *m, const char *token, size_t len,
    json_t *claims)
{
	size_t                  i = token_memo_index(token, len);
	pthread_mutex_t        *l = &m->lock[i % TOKEN_MEMO_LOCKS];
	struct token_memo_slot *sl = &m->slot[i];
	char                   *copy = xmalloc(len), *old;
	json_t                 *oldclaims;

	memcpy(copy, token, len);
	pthread_mutex_lock(l);
	old = sl->token;
	oldclaims = sl->claims;
	sl->token = copy;
	sl->len = len;
	sl->claims = json_incref(claims);
	pthread_mutex_unlock(l);
	free(old);
	json_decref(oldclaims);
}

static enum token_status
token_check_signed(const struct token_verifier *v, const char *token,
    size_t len, struct token_parts *p, struct token_buf *b, const char **why)
{
	const struct key *key;
	enum token_status st;

	if ((st = token_step_form(v, token, len, p, b, why)) != TOKEN_OK)
		return st;
	if ((st = token_step_header(v, b, &key, why)) != TOKEN_OK)
		return st;
	return token_step_signature(v, token, p, b, key, why);
}

/*
 * Sign of (x - (now + off)), exactly: a NumericDate is never rounded in the
 * token's favour. Integers are compared as integers; reals in long double,
 * where the difference of two doubles of similar size is exact.
 */
static int
token_time_cmp(const json_t *x, double now, int64_t off)
{
	long double d;
	int64_t     a, f;

	if (json_is_integer(x)) {
		if (__builtin_sub_overflow(json_integer_value(x), off, &a))
			return json_integer_value(x) > 0 ? 1 : -1;
		if (now >= 0x1p63)
			return -1;
		if (now < -0x1p63)
			return 1;
		f = (int64_t)now; /* floor(now), without libm */
		if ((double)f > now)
			f--;
		if (a != f)
			return a > f ? 1 : -1;
		return (double)f == now ? 0 : -1;
	}
	d = (long double)json_real_value(x) - (long double)now -
	    (long double)off;
	return d > 0 ? 1 : d < 0 ? -1 : 0;
}

static bool
token_list_has(const struct strlist *l, const json_t *s)
{
	size_t i, len = json_string_length(s);

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len &&
		    memcmp(l->v[i], json_string_value(s), len) == 0)
			return true;
	return false;
}

static bool
token_aud_typed(const json_t *aud)
{
	size_t  i;
	json_t *e;

	if (json_is_string(aud))
		return true;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, e)
		if (!json_is_string(e))
			return false;
	return true;
}

static bool
token_aud_ok(const struct config *cfg, const json_t *aud)
{
	const struct strlist *acc = &cfg->token.accepted_audiences;
	size_t                i;
	json_t               *e;

	if (acc->n == 0)
		return true;
	if (aud == NULL)
		return false;
	if (cfg->token.strict_audience)
		return acc->n == 1 && json_is_string(aud) &&
		    token_list_has(acc, aud);
	if (json_is_string(aud))
		return token_list_has(acc, aud);
	json_array_foreach(aud, i, e)
		if (token_list_has(acc, e))
			return true;
	return false;
}

/* Step 4a: every registered claim has its type. */
static const char *
token_check_types(const json_t *c)
{
	const json_t *sub = json_object_get(c, "sub"), *x;

	if (!json_is_string(sub) || json_string_length(sub) == 0)
		return "sub missing, empty or not a string";
	if (!json_is_number(json_object_get(c, "exp")))
		return "exp missing or not a number";
	if (!json_is_number(json_object_get(c, "iat")))
		return "iat missing or not a number";
	if ((x = json_object_get(c, "nbf")) != NULL && !json_is_number(x))
		return "nbf not a number";
	if ((x = json_object_get(c, "iss")) != NULL && !json_is_string(x))
		return "iss not a string";
	/* A jti the store could not hold cannot be revoked: not a token. */
	if ((x = json_object_get(c, "jti")) != NULL &&
	    (!json_is_string(x) || json_string_length(x) == 0 ||
	        json_string_length(x) > TOKEN_JTI_MAX))
		return "jti not a string of 1 to 256 bytes";
	if ((x = json_object_get(c, "aud")) != NULL && !token_aud_typed(x))
		return "aud not a string or an array of strings";
	return NULL;
}

/* Step 4b: time, issuer, audience, required claims. */
static const char *
token_check_values(const struct config *cfg, const json_t *c, double now)
{
	int64_t leeway = cfg->token.leeway;
	json_t *x;
	size_t  i;

	if (cfg->token.verify_expiry &&
	    token_time_cmp(json_object_get(c, "exp"), now, -leeway) <= 0)
		return "expired";
	if (cfg->token.verify_not_before &&
	    (x = json_object_get(c, "nbf")) != NULL &&
	    token_time_cmp(x, now, leeway) > 0)
		return "not yet valid (nbf)";
	if (token_time_cmp(json_object_get(c, "iat"), now, leeway) > 0)
		return "issued in the future";
	if (cfg->token.accepted_issuers.n > 0 &&
	    ((x = json_object_get(c, "iss")) == NULL ||
	        !token_list_has(&cfg->token.accepted_issuers, x)))
		return "issuer not accepted";
	if (!token_aud_ok(cfg, json_object_get(c, "aud")))
		return "audience not accepted";
	for (i = 0; i < cfg->token.require_claims.n; i++) {
		x = json_object_get(c, cfg->token.require_claims.v[i]);
		if (x == NULL || json_is_null(x))
			return "a required claim is missing";
	}
	return NULL;
}

enum token_status
token_verify(const struct token_verifier *v, const char *token, size_t len,
    double now, json_t **claims_out, const char **why)
{
	struct token_parts p;
	struct token_buf   b;
	enum token_status  st;
	const char        *reason = NULL;
	json_t            *claims = NULL;
	bool               memo;

	if (claims_out != NULL)
		*claims_out = NULL;
	b.hdr = b.pay = NULL;
	/* A token seen before: only its claims' values are judged again. */
	memo = len > 0 && len <= v->max_bytes;
	if (memo && (claims = token_memo_get(v->memo, token, len)) != NULL) {
		st = TOKEN_INVALID;
		if ((reason = token_check_values(v->cfg, claims, now)) != NULL)
			goto out;
		memo = false; /* already there */
		goto ok;
	}
	st = token_check_signed(v, token, len, &p, &b, &reason);
	if (st != TOKEN_OK)
		goto out;
	/* Step 4: payload parsed by jwtgate, duplicates refused. */
	st = TOKEN_INVALID;
	if ((claims = token_parse_object(b.pay, b.paylen)) == NULL) {
		reason = "payload not a JSON object";
		goto out;
	}
	if ((reason = token_check_types(claims)) != NULL ||
	    (reason = token_check_values(v->cfg, claims, now)) != NULL)
		goto out;
	if (memo)
		token_memo_put(v->memo, token, len, claims);
ok:
	st = TOKEN_OK;
	reason = "ok";
	if (claims_out != NULL) {
		*claims_out = claims;
		claims = NULL;
	}
out:
	json_decref(claims);
	token_buf_free(&b);
	if (why != NULL)
		*why = reason;
	return st;
}

enum token_status
token_verify_signature(const struct token_verifier *v, const char *token,
    size_t len, const char **why)
{
	struct token_parts p;
	struct token_buf   b;
	enum token_status  st;
	const char        *reason = "ok";

	b.hdr = b.pay = NULL;
	st = token_check_signed(v, token, len, &p, &b, &reason);
	token_buf_free(&b);
	if (why != NULL)
		*why = reason;
	return st;
}

static bool
token_is_reserved(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(token_reserved) / sizeof(token_reserved[0]); i++)
		if (strcmp(key, token_reserved[i]) == 0)
			return true;
	return false;
}

/* The claims of a new token, or NULL and *errstr. */
static json_t *
token_build_claims(const struct token_verifier *v, const struct token_params *p,
    int64_t now, const char *jti, const char **errstr)
{
	const struct config  *cfg = v->cfg;
	const struct strlist *aud;
	json_t               *c, *a, *val;
	const char           *key;
	int64_t               ttl, exp;
	size_t                i;

	if (p->sub == NULL || *p->sub == '\0')
		return *errstr = "empty subject", NULL;
	ttl = p->ttl != 0 ? p->ttl : cfg->token.ttl;
	if (ttl <= 0)
		return *errstr = "non-positive lifetime", NULL;
	if (__builtin_add_overflow(now, ttl, &exp) || exp <= now || exp <= 0)
		return *errstr = "expiry in the past or out of range", NULL;
	if (p->extras != NULL && !json_is_object(p->extras))
		return *errstr = "extras is not an object", NULL;
	if (p->claims != NULL) {
		if (!json_is_object(p->claims))
			return *errstr = "claims is not an object", NULL;
		json_object_foreach(p->claims, key, val)
			if (token_is_reserved(key))
				return *errstr = "a claim jwtgate sets itself "
				                 "was given",
				       NULL;
	}
	c = json_pack("{s:s, s:I, s:I, s:s}", "sub", p->sub, "exp",
	    (json_int_t)exp, "iat", (json_int_t)now, "jti", jti);
	if (c == NULL)
		return *errstr = "subject is not UTF-8", NULL;
	if (cfg->token.issuer != NULL)
		json_object_set_new(c, "iss", json_string(cfg->token.issuer));
	aud = p->audience != NULL ? p->audience : &cfg->token.audience;
	if (aud->n == 1)
		json_object_set_new(c, "aud", json_string(aud->v[0]));
	else if (aud->n > 1) {
		a = json_array();
		for (i = 0; i < aud->n; i++)
			json_array_append_new(a, json_string(aud->v[i]));
		json_object_set_new(c, "aud", a);
	}
	if (p->scope != NULL && *p->scope != '\0')
		json_object_set_new(c, "scope", json_string(p->scope));
	json_object_set_new(c, "extras",
	    p->extras != NULL ? json_deep_copy(p->extras) : json_object());
	if (p->claims != NULL)
		json_object_update(c, p->claims);
	return c;
}

/* Sign claims with libjwt; NULL on failure. */
static char *
token_encode(const struct token_verifier *v, const json_t *claims)
{
	const unsigned char *material;
	size_t               len;
	jwt_t               *jwt = NULL;
	char                *grants, *out = NULL;

	if ((grants = json_dumps(claims, JSON_COMPACT)) == NULL)
		return NULL;
	keys_signing_material(v->keys, &material, &len);
	if (jwt_new(&jwt) != 0 ||
	    jwt_set_alg(jwt, v->jwt_alg, material, (int)len) != 0 ||
	    jwt_add_header(jwt, "kid", keys_kid(keys_at(v->keys, 0))) != 0 ||
	    jwt_add_grants_json(jwt, grants) != 0)
		goto out;
	out = jwt_encode_str(jwt);
out:
	jwt_free(jwt);
	free(grants);
	return out;
}

enum token_status
token_issue(const struct token_verifier *v, const struct token_params *p,
    int64_t now, char **jwt_out, char **jti_out, const char **errstr)
{
	unsigned char raw[TOKEN_JTI_BYTES];
	char          jti[B64URL_ENCLEN(TOKEN_JTI_BYTES) + 1];
	json_t       *claims;
	char         *jwt;
	const char   *why;

	*jwt_out = NULL;
	if (jti_out != NULL)
		*jti_out = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		log_error("token: no random bytes for a jti");
		return *errstr = "no randomness", TOKEN_ERROR;
	}
	b64url_encode(raw, sizeof(raw), jti);
	if ((claims = token_build_claims(v, p, now, jti, errstr)) == NULL)
		return TOKEN_INVALID;
	jwt = token_encode(v, claims);
	json_decref(claims);
	if (jwt == NULL) {
		log_error("token: libjwt cannot sign with key %s: %s",
		    keys_kid(keys_at(v->keys, 0)), strerror(errno));
		return *errstr = "signing failed", TOKEN_ERROR;
	}
	/* What leaves must pass this file's own verifier. */
	if (token_verify_signature(v, jwt, strlen(jwt), &why) != TOKEN_OK) {
		log_error("token: an issued token fails verification: %s", why);
		free(jwt);
		return *errstr = "signing failed", TOKEN_ERROR;
	}
	*jwt_out = jwt;
	if (jti_out != NULL)
		*jti_out = xstrdup(jti);
	return TOKEN_OK;
}

int
token_claim_arg(json_t *claims, const char *arg, const char **errstr)
{
	const char *eq = strchr(arg, '=');
	json_t     *val;
	char       *key;

	if (eq == NULL || eq == arg)
		return *errstr = "expected KEY=VALUE", -1;
	key = xstrndup(arg, (size_t)(eq - arg));
	if (token_is_reserved(key)) {
		free(key);
		return *errstr = "jwtgate sets this claim itself", -1;
	}
	/* JSON when it parses (42, true, ["a"]), else the text itself. */
	if ((val = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	         NULL)) == NULL &&
	    (val = json_string(eq + 1)) == NULL) {
		free(key);
		return *errstr = "value is not UTF-8", -1;
	}
	if (json_object_set_new(claims, key, val) != 0) {
		free(key);
		return *errstr = "claim name is not UTF-8", -1;
	}
	free(key);
	return 0;
}
