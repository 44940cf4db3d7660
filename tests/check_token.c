/*
 * check_token.c - token.c against SPEC section 6: round trips for the nine
 * algorithms, RFC 7515 A.1 and A.5, every libjwt trap of issue 3 (each
 * refused by a named guard: the tests assert the reason), each claim rule
 * at its boundary, concurrency, and interop with PyJWT in both directions.
 *
 * Tokens under test are crafted here with OpenSSL directly, so a test can
 * give any header and payload a valid signature: what is refused is then
 * refused for the rule the test names, not for a bad signature.
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "token.h"
#include "xmalloc.h"

#define KEYDIR  FIXTURES "/keys/"
#define INTEROP FIXTURES "/../interop/pyjwt_interop.py"
#define PYTHON  "/usr/bin/python3"
#define NOW     1700000000

static const struct alg_fixture {
	enum token_alg alg;
	const char    *name;
	const char    *key;     /* active: secret or private PEM */
	const char    *retired; /* a second key of the same kind */
} fx[] = {
    {ALG_HS256, "HS256", KEYDIR "hs32.secret", KEYDIR "hs32b.secret"},
    {ALG_HS384, "HS384", KEYDIR "hs48.secret", KEYDIR "hs64.secret"},
    {ALG_HS512, "HS512", KEYDIR "hs64.secret", NULL},
    {ALG_RS256, "RS256", KEYDIR "rsa2048.pem", KEYDIR "rsa3072.pem"},
    {ALG_RS384, "RS384", KEYDIR "rsa2048.pem", KEYDIR "rsa3072.pem"},
    {ALG_RS512, "RS512", KEYDIR "rsa3072.pem", KEYDIR "rsa2048.pem"},
    {ALG_ES256, "ES256", KEYDIR "ec256.pem", KEYDIR "ec256b.pem"},
    {ALG_ES384, "ES384", KEYDIR "ec384.pem", NULL},
    {ALG_ES512, "ES512", KEYDIR "ec521.pem", NULL},
};

static struct config             cfg;
static char                     *retired[4];
static char                     *lists[4][4];
static struct keyring           *ring;
static struct token_verifier    *ver;
static const struct alg_fixture *cur;

static void
base_config(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.token.retired_key_files.v = retired;
	cfg.token.audience.v = lists[0];
	cfg.token.accepted_issuers.v = lists[1];
	cfg.token.accepted_audiences.v = lists[2];
	cfg.token.require_claims.v = lists[3];
	cfg.token.ttl = 3600;
	cfg.token.verify_expiry = true;
	cfg.token.verify_not_before = true;
	cfg.token.max_token_bytes = 8192;
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
}

static void
list_set(struct strlist *l, const char *a, const char *b)
{
	l->n = 0;
	if (a != NULL)
		l->v[l->n++] = (char *)a;
	if (b != NULL)
		l->v[l->n++] = (char *)b;
}

/* (Re)build the keyring and verifier for fixture f after cfg changes. */
static void
start(const struct alg_fixture *f)
{
	struct config_errors errs = {0};

	token_verifier_free(ver);
	keys_free(ring);
	cur = f;
	cfg.token.algorithm = f->alg;
	cfg.token.secret_file = f->alg <= ALG_HS512 ? (char *)f->key : NULL;
	cfg.token.private_key_file = f->alg > ALG_HS512 ? (char *)f->key : NULL;
	ck_assert_msg(keys_load(&cfg, &ring, &errs) == 0, "%s", errs.msg[0]);
	ver = token_verifier_new(&cfg, ring);
}

static void
setup_hs256(void)
{
	base_config();
	ring = NULL;
	ver = NULL;
	start(&fx[0]);
}

static void
teardown(void)
{
	token_verifier_free(ver);
	keys_free(ring);
	ver = NULL;
	ring = NULL;
}

/* ---- crafting tokens ------------------------------------------------ */

static unsigned char *
read_secret(const char *path, size_t *len)
{
	static unsigned char buf[256];
	FILE                *f = fopen(path, "rb");

	ck_assert_ptr_nonnull(f);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (*len > 0 && buf[*len - 1] == '\n')
		(*len)--;
	return buf;
}

static const EVP_MD *
md_of(enum token_alg alg)
{
	switch (alg % 3) {
	case 0: return EVP_sha256();
	case 1: return EVP_sha384();
	default: return EVP_sha512();
	}
}

/* Sign input with keyfile the way alg says; returns the raw signature. */
static size_t
sign_raw(enum token_alg alg, const char *keyfile, const char *input,
    unsigned char *sig)
{
	unsigned char        der[1024];
	size_t               len = sizeof(der), klen, half;
	unsigned int         hlen;
	const unsigned char *p = der, *key;
	EVP_MD_CTX          *ctx;
	EVP_PKEY            *pkey;
	ECDSA_SIG           *es;
	FILE                *f;

	if (alg <= ALG_HS512) {
		key = read_secret(keyfile, &klen);
		HMAC(md_of(alg), key, (int)klen, (const unsigned char *)input,
		    strlen(input), sig, &hlen);
		return hlen;
	}
	ck_assert_ptr_nonnull(f = fopen(keyfile, "r"));
	ck_assert_ptr_nonnull(pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	ctx = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, md_of(alg), NULL, pkey),
	    1);
	ck_assert_int_eq(EVP_DigestSign(ctx, der, &len,
	                     (const unsigned char *)input, strlen(input)),
	    1);
	EVP_MD_CTX_free(ctx);
	if (alg <= ALG_RS512) {
		memcpy(sig, der, len);
	} else {
		half = alg == ALG_ES256 ? 32 : alg == ALG_ES384 ? 48 : 66;
		es = d2i_ECDSA_SIG(NULL, &p, (long)len);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half);
		ECDSA_SIG_free(es);
		len = 2 * half;
	}
	EVP_PKEY_free(pkey);
	return len;
}

static char *
join(const char *hdr, const char *pay, const unsigned char *sig, size_t siglen)
{
	size_t hl = strlen(hdr), pl = strlen(pay);
	char  *t = xmalloc(
	     B64URL_ENCLEN(hl) + B64URL_ENCLEN(pl) + B64URL_ENCLEN(siglen) + 3);
	size_t o;

	o = b64url_encode((const unsigned char *)hdr, hl, t);
	t[o++] = '.';
	o += b64url_encode((const unsigned char *)pay, pl, t + o);
	t[o++] = '.';
	b64url_encode(sig, siglen, t + o);
	return t;
}

/* header.payload signed with keyfile by alg. */
static char *
craft_with(enum token_alg alg, const char *keyfile, const char *hdr,
    const char *pay)
{
	unsigned char sig[1024];
	char         *unsigned_tok, *t;
	size_t        n;

	unsigned_tok = join(hdr, pay, (const unsigned char *)"", 0);
	unsigned_tok[strlen(unsigned_tok) - 1] = '\0'; /* drop the last '.' */
	n = sign_raw(alg, keyfile, unsigned_tok, sig);
	free(unsigned_tok);
	t = join(hdr, pay, sig, n);
	return t;
}

static char *
craft(const char *hdr, const char *pay)
{
	return craft_with(cur->alg, cur->key, hdr, pay);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	static char buf[8][1024];
	static int  next;
	char       *b = buf[next++ % 8];
	va_list     ap;

	va_start(ap, f);
	vsnprintf(b, 1024, f, ap);
	va_end(ap);
	return b;
}

static const char *
std_hdr(void)
{
	return fmt("{\"alg\":\"%s\",\"typ\":\"JWT\"}", cur->name);
}

static const char *
std_pay(void)
{
	return fmt("{\"sub\":\"alice\",\"iat\":%d,\"exp\":%d}", NOW, NOW + 60);
}

/* Verify at now and expect st; on TOKEN_INVALID, expect reason why. */
static void
expect_at(const char *tok, double now, enum token_status st, const char *why)
{
	const char       *reason = NULL;
	json_t           *claims = NULL;
	enum token_status got;

	got = token_verify(ver, tok, strlen(tok), now, &claims, &reason);
	ck_assert_msg(got == st, "token_verify = %d (%s), want %d", got, reason,
	    st);
	if (why != NULL)
		ck_assert_msg(strcmp(reason, why) == 0, "why '%s', want '%s'",
		    reason, why);
	if (st == TOKEN_OK)
		ck_assert_ptr_nonnull(claims);
	else
		ck_assert_ptr_null(claims);
	json_decref(claims);
}

static void
expect(const char *tok, enum token_status st, const char *why)
{
	expect_at(tok, NOW, st, why);
}

/* craft, verify at NOW, free. */
static void
expect_crafted(const char *hdr, const char *pay, enum token_status st,
    const char *why)
{
	char *t = craft(hdr, pay);

	expect(t, st, why);
	free(t);
}

static char *
issue(int64_t now)
{
	struct token_params p = {.sub = "alice"};
	char               *jwt, *jti;
	const char         *err = NULL;

	ck_assert_int_eq(token_issue(ver, &p, now, &jwt, &jti, &err), TOKEN_OK);
	free(jti);
	return jwt;
}

/* ---- strict base64url ---------------------------------------------- */

START_TEST(b64url_canonical)
{
	static const char *const bad[] = {"A", "AB=", "AB==", "AB C", "A+B/",
	    "AB\n", "AB$", "Zg=", "Zh", "Zm9", "Zm9vYh", "QUJDRA==",
	    "\xc3\xa9"
	    "AA"};
	unsigned char            in[64], out[64];
	char                     enc[128];
	size_t                   n, i;
	long                     r;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(in); n++) {
		ck_assert_uint_eq(b64url_encode(in, n, enc), B64URL_ENCLEN(n));
		ck_assert_uint_eq(B64URL_DECLEN(strlen(enc)), n);
		ck_assert_int_eq(b64url_decode(enc, strlen(enc), out), (long)n);
		ck_assert_int_eq(memcmp(in, out, n), 0);
	}
	ck_assert_str_eq((b64url_encode((const unsigned char *)"\xfb\xff", 2,
	                      enc),
	                     enc),
	    "-_8");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = b64url_decode(bad[i], strlen(bad[i]), out);
		ck_assert_msg(r == -1, "'%s' decoded to %ld bytes", bad[i], r);
	}
	/* "Zg" and "Zm8" are canonical; "Zh" and "Zm9" are their twins. */
	ck_assert_int_eq(b64url_decode("Zg", 2, out), 1);
	ck_assert_int_eq(b64url_decode("Zm8", 3, out), 2);
}
END_TEST

/* ---- round trips ---------------------------------------------------- */

static void
setup_loop(void)
{
	base_config();
	ring = NULL;
	ver = NULL;
}

static json_t *
segment_json(const char *tok, int n)
{
	const char   *s = tok, *e;
	unsigned char buf[2048];
	long          len;

	while (n-- > 0)
		s = strchr(s, '.') + 1;
	e = strchr(s, '.');
	len = b64url_decode(s, (size_t)(e - s), buf);
	ck_assert_int_gt(len, 0);
	return json_loadb((const char *)buf, (size_t)len, 0, NULL);
}

START_TEST(roundtrip)
{
	const struct alg_fixture *f = &fx[_i];
	struct token_params       p = {.sub = "alice"};
	json_t                   *claims, *hdr, *extras;
	char                     *jwt, *jti;
	const char               *err, *why;

	start(f);
	/* Without iss, aud, extras. */
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err), TOKEN_OK);
	ck_assert_uint_eq(strlen(jti), 22);
	ck_assert_int_eq(token_verify(ver, jwt, strlen(jwt), NOW, &claims,
	                     &why),
	    TOKEN_OK);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")),
	    "alice");
	ck_assert_int_eq(json_integer_value(json_object_get(claims, "exp")),
	    NOW + 3600);
	ck_assert_int_eq(json_integer_value(json_object_get(claims, "iat")),
	    NOW);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "jti")),
	    jti);
	ck_assert_ptr_null(json_object_get(claims, "iss"));
	ck_assert_ptr_null(json_object_get(claims, "aud"));
	ck_assert_int_eq(json_object_size(json_object_get(claims, "extras")),
	    0);
	json_decref(claims);
	hdr = segment_json(jwt, 0);
	ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")),
	    f->name);
	ck_assert_str_eq(json_string_value(json_object_get(hdr, "typ")), "JWT");
	ck_assert_str_eq(json_string_value(json_object_get(hdr, "kid")),
	    keys_kid(keys_at(ring, 0)));
	json_decref(hdr);
	free(jwt);
	free(jti);

	/* With iss, aud, scope, extras and a further claim. */
	cfg.token.issuer = "https://auth.example";
	list_set(&cfg.token.accepted_issuers, "https://auth.example", NULL);
	list_set(&cfg.token.audience, "api", "web");
	list_set(&cfg.token.accepted_audiences, "web", NULL);
	start(f);
	extras = json_pack("{s:[s,s], s:s}", "roles", "admin", "dev", "name",
	    "Alice");
	p.extras = extras;
	p.scope = "read write";
	p.ttl = 60;
	p.claims = json_pack("{s:i}", "tenant", 7);
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, NULL, &err), TOKEN_OK);
	ck_assert_int_eq(token_verify(ver, jwt, strlen(jwt), NOW + 59.5,
	                     &claims, &why),
	    TOKEN_OK);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")),
	    "https://auth.example");
	ck_assert_int_eq(json_array_size(json_object_get(claims, "aud")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "scope")),
	    "read write");
	ck_assert(json_equal(json_object_get(claims, "extras"), extras));
	ck_assert_int_eq(json_integer_value(json_object_get(claims, "tenant")),
	    7);
	json_decref(claims);
	expect_at(jwt, NOW + 60, TOKEN_INVALID, "expired");
	free(jwt);
	json_decref(extras);
	json_decref((json_t *)p.claims);
}
END_TEST

/* libjwt 1.10 once dropped leading zero bytes of R or S: many ES tokens. */
START_TEST(es_many)
{
	int   i;
	char *t;

	start(&fx[_i]);
	for (i = 0; i < 300; i++) {
		t = issue(NOW);
		expect(t, TOKEN_OK, NULL);
		free(t);
	}
}
END_TEST

/* Retired keys verify, with and without kid; kid selects only its key. */
/*
 * Verified tokens are remembered with their claims: the same token verifies
 * again, its claims' values are still judged on every call (expiry, a token
 * issued in the future), and no refused token, nor a twin with other
 * signature bytes or the same signature over other bytes (same slot of the
 * memory), is ever let through by the memory.
 */
START_TEST(remembered_tokens)
{
	char *t, *bad, *p;
	int   i;

	start(&fx[_i]);
	t = issue(NOW);
	for (i = 0; i < 3; i++)
		expect(t, TOKEN_OK, NULL);
	expect_at(t, NOW + 86400 + 1, TOKEN_INVALID, "expired");
	expect_at(t, NOW - 10, TOKEN_INVALID, "issued in the future");
	expect(t, TOKEN_OK, NULL);
	/* The last signature character changed: a different token. */
	bad = strdup(t);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'Q' : 'A';
	for (i = 0; i < 3; i++) {
		const char *why = NULL;

		ck_assert_int_ne(token_verify(ver, bad, strlen(bad), NOW, NULL,
		                     &why),
		    TOKEN_OK);
	}
	/* Same length and signature, one payload byte changed. */
	free(bad);
	bad = strdup(t);
	p = strchr(bad, '.') + 1;
	*p = *p == 'e' ? 'f' : 'e';
	expect(bad, TOKEN_INVALID, "bad signature");
	/* Same signature, one byte shorter or longer. */
	expect(t + 1, TOKEN_INVALID, NULL);
	free(bad);
	ck_assert_int_ge(asprintf(&bad, "e%s", t), 0);
	expect(bad, TOKEN_INVALID, NULL);
	expect(t, TOKEN_OK, NULL);
	/* A reload (new verifier) remembers nothing and still verifies. */
	start(cur);
	expect(t, TOKEN_OK, NULL);
	free(bad);
	free(t);
}
END_TEST

START_TEST(rotation)
{
	const struct alg_fixture *f = &fx[_i];
	const char               *kid;
	json_t                   *hdr;
	char                     *t;

	if (f->retired == NULL)
		return;
	retired[0] = (char *)f->retired;
	cfg.token.retired_key_files.n = 1;
	start(f);
	kid = keys_kid(keys_at(ring, 1));
	t = craft_with(f->alg, f->retired, std_hdr(), std_pay());
	expect(t, TOKEN_OK, NULL);
	free(t);
	t = craft_with(f->alg, f->retired,
	    fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", f->name, kid), std_pay());
	expect(t, TOKEN_OK, NULL);
	free(t);
	/* Signed by the retired key but naming the active one. */
	t = craft_with(f->alg, f->retired,
	    fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", f->name,
	        keys_kid(keys_at(ring, 0))),
	    std_pay());
	expect(t, TOKEN_INVALID, NULL);
	free(t);
	/* A retired key never signs. */
	t = issue(NOW);
	expect(t, TOKEN_OK, NULL);
	hdr = segment_json(t, 0);
	ck_assert_str_eq(json_string_value(json_object_get(hdr, "kid")),
	    keys_kid(keys_at(ring, 0)));
	json_decref(hdr);
	free(t);
}
END_TEST

/* ---- RFC 7515 ------------------------------------------------------- */

/* A.1: HS256 with the JWK "k" below; the token lacks sub and iat. */
START_TEST(rfc7515_a1)
{
	static const char k64[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T"
	                          "-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
	static const char tok[] =
	    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
	    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
	    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	static const struct alg_fixture a1 = {ALG_HS256, "HS256",
	    "/tmp/check_token_a1.key", NULL};
	unsigned char                   key[64];
	const char                     *why;
	char                           *bad;
	FILE                           *f;

	ck_assert_int_eq(b64url_decode(k64, strlen(k64), key), 64);
	ck_assert_ptr_nonnull(f = fopen(a1.key, "wb"));
	fwrite(key, 1, 64, f);
	fclose(f);
	start(&a1);
	unlink(a1.key);

	ck_assert_int_eq(token_verify_signature(ver, tok, strlen(tok), &why),
	    TOKEN_OK);
	expect_at(tok, 1300819000, TOKEN_INVALID,
	    "sub missing, empty or not a string");
	/* One bit off and even the signature layer refuses it. */
	bad = xstrdup(tok);
	bad[strlen(bad) - 1] = 'Y';
	ck_assert_int_eq(token_verify_signature(ver, bad, strlen(bad), &why),
	    TOKEN_INVALID);
	ck_assert_str_eq(why, "bad signature");
	free(bad);
}
END_TEST

/* A.5: an unsecured JWS, {"alg":"none"} and an empty signature. */
START_TEST(rfc7515_a5)
{
	static const char tok[] =
	    "eyJhbGciOiJub25lIn0."
	    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
	    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";

	expect_at(tok, 1300819000, TOKEN_INVALID,
	    "signature length fits no key");
}
END_TEST

/* ---- the libjwt traps ---------------------------------------------- */

/* alg confusion: HS256 keyed with the RSA public key PEM. */
START_TEST(trap_hs256_with_rsa_public_pem)
{
	static const unsigned char zeros[256];
	char                      *t;

	start(&fx[3]); /* RS256 */
	t = craft_with(ALG_HS256, KEYDIR "rsa2048.pub.pem",
	    "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", std_pay());
	expect(t, TOKEN_INVALID, NULL);
	free(t);
	/* With a signature of the RSA length, alg is what refuses it. */
	t = join("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", std_pay(), zeros, 256);
	expect(t, TOKEN_INVALID, "alg is not the configured algorithm");
	free(t);
}
END_TEST

/* libjwt's jwt_str_alg() is case-insensitive; none must never pass. */
START_TEST(trap_alg_spelling)
{
	static const char *const algs[] = {"hs256", "Hs256", "HS256 ", "none",
	    "None", "NONE", "HS512", "RS256", ""};
	size_t                   i;
	char                    *t;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		/* Validly signed with the real secret: only alg is wrong. */
		expect_crafted(fmt("{\"alg\":\"%s\"}", algs[i]), std_pay(),
		    TOKEN_INVALID, "alg is not the configured algorithm");
	}
	expect_crafted("{\"typ\":\"JWT\"}", std_pay(), TOKEN_INVALID,
	    "alg is not the configured algorithm");
	expect_crafted("{\"alg\":null}", std_pay(), TOKEN_INVALID,
	    "alg is not the configured algorithm");
	expect_crafted("{\"alg\":[\"HS256\"]}", std_pay(), TOKEN_INVALID,
	    "alg is not the configured algorithm");
	/* "none" with an empty signature, as libjwt would take it. */
	t = join("{\"alg\":\"none\"}", std_pay(), (const unsigned char *)"", 0);
	expect(t, TOKEN_INVALID, "signature length fits no key");
	free(t);
}
END_TEST

START_TEST(trap_empty_signature)
{
	char *t = join(std_hdr(), std_pay(), (const unsigned char *)"", 0);

	expect(t, TOKEN_INVALID, "signature length fits no key");
	free(t);
}
END_TEST

/* Insert c at signature offset off (or append when off < 0). */
static char *
inject(const char *tok, long off, const char *c)
{
	const char *sig = strrchr(tok, '.') + 1;
	size_t at = off < 0 ? strlen(tok) : (size_t)(sig - tok) + (size_t)off;
	char  *t = xmalloc(strlen(tok) + strlen(c) + 1);

	memcpy(t, tok, at);
	strcpy(t + at, c);
	strcat(t, tok + at);
	return t;
}

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* libb64 skips what it does not know; jwtgate refuses it. */
START_TEST(trap_signature_injection)
{
	static const char *const  junk[] = {"=", "==", "$", " ", "\n", "+", "/",
	     ".", "%3D"};
	const struct alg_fixture *f = &fx[_i];
	char                     *tok, *t, *sig;
	size_t                    i, slen;

	start(f);
	tok = issue(NOW);
	expect(tok, TOKEN_OK, NULL);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		t = inject(tok, -1, junk[i]);
		expect(t, TOKEN_INVALID, NULL);
		free(t);
		t = inject(tok, 10, junk[i]);
		expect(t, TOKEN_INVALID, NULL);
		free(t);
	}
	/* Same length, standard alphabet: '-' and '_' spelled '+' and '/'. */
	t = xstrdup(tok);
	sig = strrchr(t, '.') + 1;
	sig[5] = '+';
	sig[6] = '/';
	expect(t, TOKEN_INVALID, "segment not canonical base64url");
	free(t);
	/* Same bytes, other spelling: unused low bits of the last char set. */
	t = xstrdup(tok);
	sig = strrchr(t, '.') + 1;
	slen = strlen(sig);
	if (slen % 4 == 0) { /* RSA-3072, P-384, P-521: no unused bits */
		free(t);
		free(tok);
		return;
	}
	sig[slen - 1] =
	    alphabet[(strchr(alphabet, sig[slen - 1]) - alphabet) | 1];
	ck_assert_str_ne(t, tok);
	expect(t, TOKEN_INVALID, "segment not canonical base64url");
	free(t);
	free(tok);
}
END_TEST

/* Replace the S half of an ES token's signature by n - S, 0 or n. */
static char *
with_s(const char *tok, const BIGNUM *order, int how)
{
	unsigned char sig[132];
	const char   *s64 = strrchr(tok, '.') + 1;
	long          n = b64url_decode(s64, strlen(s64), sig);
	size_t        half = (size_t)n / 2, keep = (size_t)(s64 - tok);
	BIGNUM       *s = BN_bin2bn(sig + half, (int)half, NULL);
	char         *t;

	if (how == 0)
		BN_sub(s, order, s);
	else if (how == 1)
		BN_zero(s);
	else
		BN_copy(s, order);
	BN_bn2binpad(s, sig + half, (int)half);
	BN_free(s);
	t = xmalloc(keep + B64URL_ENCLEN((size_t)n) + 1);
	memcpy(t, tok, keep);
	b64url_encode(sig, (size_t)n, t + keep);
	return t;
}

/*
 * Decision (token.c): the high-S twin (r, n - s) is accepted, as OpenSSL
 * and PyJWT would; s = 0 and s = n are refused.
 */
START_TEST(trap_ecdsa_high_s)
{
	static const int nids[] = {NID_X9_62_prime256v1, NID_secp384r1,
	    NID_secp521r1};
	EC_GROUP        *g;
	char            *tok, *t;

	start(&fx[6 + _i]);
	g = EC_GROUP_new_by_curve_name(nids[_i]);
	tok = issue(NOW);
	t = with_s(tok, EC_GROUP_get0_order(g), 0);
	ck_assert_str_ne(t, tok);
	expect(t, TOKEN_OK, NULL);
	free(t);
	t = with_s(tok, EC_GROUP_get0_order(g), 1);
	expect(t, TOKEN_INVALID, "bad signature");
	free(t);
	t = with_s(tok, EC_GROUP_get0_order(g), 2);
	expect(t, TOKEN_INVALID, "bad signature");
	free(t);
	free(tok);
	EC_GROUP_free(g);
}
END_TEST

/* jansson keeps the last of duplicate keys unless told otherwise. */
START_TEST(trap_duplicate_keys)
{
	expect_crafted("{\"alg\":\"none\",\"alg\":\"HS256\"}", std_pay(),
	    TOKEN_INVALID, "header not a JSON object");
	expect_crafted("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", std_pay(),
	    TOKEN_INVALID, "header not a JSON object");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"alice\",\"sub\":\"root\","
	        "\"iat\":%d,\"exp\":%d}",
	        NOW, NOW + 60),
	    TOKEN_INVALID, "payload not a JSON object");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d,"
	        "\"exp\":%d}",
	        NOW, NOW - 60, NOW + 60),
	    TOKEN_INVALID, "payload not a JSON object");
}
END_TEST

START_TEST(trap_payload_shapes)
{
	static const char *const pays[] = {"[]", "[{\"sub\":\"a\"}]",
	    "\"alice\"", "42", "null", "true", "", " ", "{", "{}garbage",
	    "{\"sub\":\"a\\u0000b\",\"iat\":1,\"exp\":9999999999}"};
	size_t                   i;

	for (i = 0; i < sizeof(pays) / sizeof(pays[0]); i++)
		expect_crafted(std_hdr(), pays[i], TOKEN_INVALID,
		    "payload not a JSON object");
	expect_crafted("[\"HS256\"]", std_pay(), TOKEN_INVALID,
	    "header not a JSON object");
	expect_crafted("", std_pay(), TOKEN_INVALID,
	    "header not a JSON object");
}
END_TEST

START_TEST(trap_exp_types)
{
	static const char *const bad[] = {"\"1800000000\"", "true", "false",
	    "null", "[1800000000]", "{}"};
	size_t                   i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_crafted(std_hdr(),
		    fmt("{\"sub\":\"a\",\"iat\":%d,"
		        "\"exp\":%s}",
		        NOW, bad[i]),
		    TOKEN_INVALID, "exp missing or not a number");
	/* Out of range: jansson refuses to parse, never wraps or saturates. */
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "99999999999999999999}",
	        NOW),
	    TOKEN_INVALID, "payload not a JSON object");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "1e400}",
	        NOW),
	    TOKEN_INVALID, "payload not a JSON object");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "-99999999999999999999}",
	        NOW),
	    TOKEN_INVALID, "payload not a JSON object");
	/* Huge but representable: valid NumericDates. */
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "9223372036854775807}",
	        NOW),
	    TOKEN_OK, NULL);
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "-9223372036854775808}",
	        NOW),
	    TOKEN_INVALID, "expired");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "1e300}",
	        NOW),
	    TOKEN_OK, NULL);
	/* Floats are NumericDates, compared without rounding. */
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "%d.5}",
	        NOW, NOW),
	    TOKEN_OK, NULL);
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":"
	        "%d.5}",
	        NOW, NOW - 1),
	    TOKEN_INVALID, "expired");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d.0,\"exp\":"
	        "%d.0}",
	        NOW, NOW),
	    TOKEN_INVALID, "expired");
}
END_TEST

START_TEST(trap_missing_claims)
{
	expect_crafted(std_hdr(), fmt("{\"sub\":\"a\",\"iat\":%d}", NOW),
	    TOKEN_INVALID, "exp missing or not a number");
	expect_crafted(std_hdr(), fmt("{\"sub\":\"a\",\"exp\":%d}", NOW + 9),
	    TOKEN_INVALID, "iat missing or not a number");
	expect_crafted(std_hdr(), fmt("{\"iat\":%d,\"exp\":%d}", NOW, NOW + 9),
	    TOKEN_INVALID, "sub missing, empty or not a string");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"\",\"iat\":%d,\"exp\":%d}", NOW, NOW + 9),
	    TOKEN_INVALID, "sub missing, empty or not a string");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":42,\"iat\":%d,\"exp\":%d}", NOW, NOW + 9),
	    TOKEN_INVALID, "sub missing, empty or not a string");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":null,\"iat\":%d,\"exp\":%d}", NOW, NOW + 9),
	    TOKEN_INVALID, "sub missing, empty or not a string");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":\"%d\",\"exp\":"
	        "%d}",
	        NOW, NOW + 9),
	    TOKEN_INVALID, "iat missing or not a number");
	/* verify_expiry = false: exp is still required. */
	cfg.token.verify_expiry = false;
	expect_crafted(std_hdr(), fmt("{\"sub\":\"a\",\"iat\":%d}", NOW),
	    TOKEN_INVALID, "exp missing or not a number");
	expect_crafted(std_hdr(),
	    fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW, NOW - 1000),
	    TOKEN_OK, NULL);
}
END_TEST

/* 9 MB: refused on its length, before any byte is decoded. */
START_TEST(trap_huge_token)
{
	size_t      big = 9 * 1024 * 1024;
	char       *t = xmalloc(big + 1), *ok, *pad;
	const char *why;

	memset(t, 'A', big);
	t[100] = '.';
	t[200] = '.';
	t[big] = '\0';
	ck_assert_int_eq(token_verify(ver, t, big, NOW, NULL, &why),
	    TOKEN_INVALID);
	ck_assert_str_eq(why, "token longer than max_token_bytes");
	free(t);

	/* At the boundary: max_token_bytes itself passes, one more fails. */
	pad = xmalloc(8192);
	memset(pad, 'x', 8191);
	pad[6000] = '\0';
	xasprintf(&t,
	    "{\"sub\":\"alice\",\"iat\":%d,\"exp\":%d,"
	    "\"p\":\"%s\"}",
	    NOW, NOW + 60, pad);
	ok = craft(std_hdr(), t);
	free(t);
	free(pad);
	cfg.token.max_token_bytes = strlen(ok);
	start(cur);
	expect(ok, TOKEN_OK, NULL);
	cfg.token.max_token_bytes = strlen(ok) - 1;
	start(cur);
	expect(ok, TOKEN_INVALID, "token longer than max_token_bytes");
	free(ok);
}
END_TEST

START_TEST(trap_crit)
{
	expect_crafted("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
	    std_pay(), TOKEN_INVALID, "crit header");
	expect_crafted("{\"alg\":\"HS256\",\"crit\":[]}", std_pay(),
	    TOKEN_INVALID, "crit header");
	expect_crafted("{\"alg\":\"HS256\",\"crit\":null}", std_pay(),
	    TOKEN_INVALID, "crit header");
}
END_TEST

START_TEST(trap_kid)
{
	expect_crafted("{\"alg\":\"HS256\",\"kid\":\"nope\"}", std_pay(),
	    TOKEN_INVALID, "kid names no configured key");
	expect_crafted("{\"alg\":\"HS256\",\"kid\":42}", std_pay(),
	    TOKEN_INVALID, "kid names no configured key");
	expect_crafted("{\"alg\":\"HS256\",\"kid\":\"\"}", std_pay(),
	    TOKEN_INVALID, "kid names no configured key");
	expect_crafted(fmt("{\"alg\":\"HS256\",\"kid\":\"%s\"}",
	                   keys_kid(keys_at(ring, 0))),
	    std_pay(), TOKEN_OK, NULL);
	/* A prefix of the kid is not the kid. */
	expect_crafted(fmt("{\"alg\":\"HS256\",\"kid\":\"%.15s\"}",
	                   keys_kid(keys_at(ring, 0))),
	    std_pay(), TOKEN_INVALID, "kid names no configured key");
}
END_TEST

/* jku and jwk point at the attacker's key; neither is ever used. */
START_TEST(trap_jku_jwk)
{
	char                *t, *evil;
	struct keyring      *evil_ring;
	json_t              *jwks;
	struct config_errors errs = {0};

	start(&fx[3]); /* RS256 with rsa2048 */
	cfg.token.private_key_file = KEYDIR "rsa3072.pem";
	ck_assert_int_eq(keys_load(&cfg, &evil_ring, &errs), 0);
	jwks = keys_jwks(evil_ring);
	evil = json_dumps(json_array_get(json_object_get(jwks, "keys"), 0),
	    JSON_COMPACT);
	t = craft_with(ALG_RS256, KEYDIR "rsa3072.pem",
	    fmt("{\"alg\":\"RS256\",\"jku\":\"https://evil.example/jwks\","
	        "\"jwk\":%s,\"x5u\":\"https://evil.example/c\"}",
	        evil),
	    std_pay());
	expect(t, TOKEN_INVALID, "signature length fits no key");
	free(t);
	t = craft_with(ALG_RS256, KEYDIR "rsa3072.pem",
	    fmt("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jwk\":%s}",
	        keys_kid(keys_at(evil_ring, 0)), evil),
	    std_pay());
	expect(t, TOKEN_INVALID, NULL);
	free(t);
	/* Present but ignored on a token our key signed. */
	t = craft_with(ALG_RS256, KEYDIR "rsa2048.pem",
	    fmt("{\"alg\":\"RS256\",\"jku\":\"https://evil.example/jwks\","
	        "\"jwk\":%s}",
	        evil),
	    std_pay());
	expect(t, TOKEN_OK, NULL);
	free(t);
	free(evil);
	json_decref(jwks);
	keys_free(evil_ring);
}
END_TEST

START_TEST(header_typ)
{
	expect_crafted("{\"alg\":\"HS256\"}", std_pay(), TOKEN_OK, NULL);
	expect_crafted("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", std_pay(),
	    TOKEN_INVALID, "typ is not JWT");
	expect_crafted("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", std_pay(),
	    TOKEN_INVALID, "typ is not JWT");
	expect_crafted("{\"alg\":\"HS256\",\"typ\":1}", std_pay(),
	    TOKEN_INVALID, "typ is not JWT");
}
END_TEST

START_TEST(form)
{
	char  *tok = craft(std_hdr(), std_pay()), *t;
	size_t len = strlen(tok);

	expect(tok, TOKEN_OK, NULL);
	expect("", TOKEN_INVALID, "empty token");
	expect("abc", TOKEN_INVALID, "not three segments");
	expect("a.b", TOKEN_INVALID, "not three segments");
	t = fmt("%s.", tok);
	expect(t, TOKEN_INVALID, "not three segments");
	t = fmt("%s.%s", tok, strrchr(tok, '.') + 1);
	expect(t, TOKEN_INVALID, "not three segments");
	/* A NUL inside the given length is not the end of the token. */
	t = xmalloc(len + 2);
	memcpy(t, tok, len);
	t[len] = '\0';
	t[len + 1] = 'A';
	ck_assert_int_eq(token_verify(ver, t, len + 1, NOW, NULL, NULL),
	    TOKEN_INVALID);
	/* Not NUL-terminated at len: only len bytes are read. */
	t[len] = 'Z';
	ck_assert_int_eq(token_verify(ver, t, len, NOW, NULL, NULL), TOKEN_OK);
	free(t);
	/* Padding on the header. */
	t = xmalloc(len + 3);
	sprintf(t, "%.*s==%s", (int)(strchr(tok, '.') - tok), tok,
	    strchr(tok, '.'));
	expect(t, TOKEN_INVALID, NULL);
	free(t);
	free(tok);
}
END_TEST

/* ---- claim rules at their boundaries ------------------------------- */

static void
expect_pay(const char *pay, double now, enum token_status st, const char *why)
{
	char *t = craft(std_hdr(), pay);

	expect_at(t, now, st, why);
	free(t);
}

START_TEST(claims_time)
{
	const char *p;

	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW - 100, NOW);
	expect_pay(p, NOW, TOKEN_INVALID, "expired"); /* exp = now */
	expect_pay(p, NOW - 0.001, TOKEN_OK, NULL);
	expect_pay(p, NOW - 1, TOKEN_OK, NULL);
	/* Fractional now: never rounded in the token's favour. */
	expect_pay(p, NOW + 0.5, TOKEN_INVALID, "expired");
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d.25}", NOW - 100, NOW);
	expect_pay(p, NOW + 0.25, TOKEN_INVALID, "expired");
	expect_pay(p, NOW + 0.24, TOKEN_OK, NULL);

	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"nbf\":%d,\"exp\":%d}", NOW,
	    NOW + 1, NOW + 60);
	expect_pay(p, NOW, TOKEN_INVALID, "not yet valid (nbf)");
	expect_pay(p, NOW + 0.999, TOKEN_INVALID, "not yet valid (nbf)");
	expect_pay(p, NOW + 1, TOKEN_OK, NULL);

	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW + 1, NOW + 60);
	expect_pay(p, NOW, TOKEN_INVALID, "issued in the future");
	expect_pay(p, NOW + 1, TOKEN_OK, NULL);
	p = fmt("{\"sub\":\"a\",\"iat\":%d.5,\"exp\":%d}", NOW, NOW + 60);
	expect_pay(p, NOW + 0.4, TOKEN_INVALID, "issued in the future");
	expect_pay(p, NOW + 0.5, TOKEN_OK, NULL);

	/* nbf is typed even when not checked. */
	cfg.token.verify_not_before = false;
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"nbf\":%d,\"exp\":%d}", NOW,
	    NOW + 1000, NOW + 60);
	expect_pay(p, NOW, TOKEN_OK, NULL);
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"nbf\":\"x\",\"exp\":%d}", NOW,
	    NOW + 60);
	expect_pay(p, NOW, TOKEN_INVALID, "nbf not a number");
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"nbf\":null,\"exp\":%d}", NOW,
	    NOW + 60);
	expect_pay(p, NOW, TOKEN_INVALID, "nbf not a number");
}
END_TEST

START_TEST(claims_leeway)
{
	const char *p;

	cfg.token.leeway = 10;
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW - 100, NOW - 10);
	expect_pay(p, NOW, TOKEN_INVALID, "expired"); /* exp = now - leeway */
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW - 100, NOW - 9);
	expect_pay(p, NOW, TOKEN_OK, NULL);
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"nbf\":%d,\"exp\":%d}", NOW,
	    NOW + 10, NOW + 60);
	expect_pay(p, NOW, TOKEN_OK, NULL);
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"nbf\":%d,\"exp\":%d}", NOW,
	    NOW + 11, NOW + 60);
	expect_pay(p, NOW, TOKEN_INVALID, "not yet valid (nbf)");
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW + 10, NOW + 60);
	expect_pay(p, NOW, TOKEN_OK, NULL);
	p = fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d}", NOW + 11, NOW + 60);
	expect_pay(p, NOW, TOKEN_INVALID, "issued in the future");
}
END_TEST

static const char *
pay_with(const char *extra)
{
	return fmt("{\"sub\":\"a\",\"iat\":%d,\"exp\":%d%s%s}", NOW, NOW + 60,
	    *extra != '\0' ? "," : "", extra);
}

START_TEST(claims_types)
{
	expect_pay(pay_with("\"iss\":1"), NOW, TOKEN_INVALID,
	    "iss not a string");
	expect_pay(pay_with("\"iss\":null"), NOW, TOKEN_INVALID,
	    "iss not a string");
	expect_pay(pay_with("\"jti\":12"), NOW, TOKEN_INVALID,
	    "jti not a string of 1 to 256 bytes");
	expect_pay(pay_with("\"jti\":\"\""), NOW, TOKEN_INVALID,
	    "jti not a string of 1 to 256 bytes");
	{
		char jti[300];

		memset(jti, 'j', 257);
		jti[257] = '\0';
		expect_pay(pay_with(fmt("\"jti\":\"%s\"", jti)), NOW,
		    TOKEN_INVALID, "jti not a string of 1 to 256 bytes");
		jti[256] = '\0';
		expect_pay(pay_with(fmt("\"jti\":\"%s\"", jti)), NOW, TOKEN_OK,
		    NULL);
	}
	expect_pay(pay_with("\"aud\":1"), NOW, TOKEN_INVALID,
	    "aud not a string or an array of strings");
	expect_pay(pay_with("\"aud\":[\"a\",1]"), NOW, TOKEN_INVALID,
	    "aud not a string or an array of strings");
	expect_pay(pay_with("\"aud\":{}"), NOW, TOKEN_INVALID,
	    "aud not a string or an array of strings");
	expect_pay(pay_with("\"aud\":[]"), NOW, TOKEN_OK, NULL);
	expect_pay(pay_with("\"aud\":\"x\",\"iss\":\"y\",\"jti\":\"z\""), NOW,
	    TOKEN_OK, NULL);
}
END_TEST

START_TEST(claims_issuer)
{
	list_set(&cfg.token.accepted_issuers, "https://a", "https://b");
	expect_pay(pay_with("\"iss\":\"https://b\""), NOW, TOKEN_OK, NULL);
	expect_pay(pay_with("\"iss\":\"https://c\""), NOW, TOKEN_INVALID,
	    "issuer not accepted");
	expect_pay(pay_with("\"iss\":\"https://b/\""), NOW, TOKEN_INVALID,
	    "issuer not accepted");
	expect_pay(pay_with(""), NOW, TOKEN_INVALID, "issuer not accepted");
}
END_TEST

START_TEST(claims_audience)
{
	list_set(&cfg.token.accepted_audiences, "api", "web");
	expect_pay(pay_with("\"aud\":\"api\""), NOW, TOKEN_OK, NULL);
	expect_pay(pay_with("\"aud\":[\"x\",\"web\"]"), NOW, TOKEN_OK, NULL);
	expect_pay(pay_with("\"aud\":[\"x\",\"y\"]"), NOW, TOKEN_INVALID,
	    "audience not accepted");
	expect_pay(pay_with("\"aud\":[]"), NOW, TOKEN_INVALID,
	    "audience not accepted");
	expect_pay(pay_with("\"aud\":\"API\""), NOW, TOKEN_INVALID,
	    "audience not accepted");
	expect_pay(pay_with(""), NOW, TOKEN_INVALID, "audience not accepted");

	/* strict: a single string equal to the one accepted audience. */
	list_set(&cfg.token.accepted_audiences, "api", NULL);
	cfg.token.strict_audience = true;
	expect_pay(pay_with("\"aud\":\"api\""), NOW, TOKEN_OK, NULL);
	expect_pay(pay_with("\"aud\":[\"api\"]"), NOW, TOKEN_INVALID,
	    "audience not accepted");
	expect_pay(pay_with("\"aud\":\"web\""), NOW, TOKEN_INVALID,
	    "audience not accepted");
	expect_pay(pay_with(""), NOW, TOKEN_INVALID, "audience not accepted");
	/* strict with two accepted audiences is refused outright. */
	list_set(&cfg.token.accepted_audiences, "api", "web");
	expect_pay(pay_with("\"aud\":\"api\""), NOW, TOKEN_INVALID,
	    "audience not accepted");
}
END_TEST

START_TEST(claims_required_and_extras)
{
	const char *why;
	json_t     *claims;
	char       *t;

	list_set(&cfg.token.require_claims, "role", NULL);
	expect_pay(pay_with(""), NOW, TOKEN_INVALID,
	    "a required claim is missing");
	expect_pay(pay_with("\"role\":null"), NOW, TOKEN_INVALID,
	    "a required claim is missing");
	expect_pay(pay_with("\"role\":\"\""), NOW, TOKEN_OK, NULL);
	/* Unknown top-level claims are kept. */
	t = craft(std_hdr(), pay_with("\"role\":false,\"team\":[1,2]"));
	ck_assert_int_eq(token_verify(ver, t, strlen(t), NOW, &claims, &why),
	    TOKEN_OK);
	ck_assert_int_eq(json_array_size(json_object_get(claims, "team")), 2);
	ck_assert(json_is_false(json_object_get(claims, "role")));
	json_decref(claims);
	free(t);
}
END_TEST

/* ---- issuing -------------------------------------------------------- */

START_TEST(issue_refusals)
{
	struct token_params p = {.sub = "alice"};
	char               *jwt, *jti;
	const char         *err;
	json_t             *c;

	p.sub = "";
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	ck_assert_str_eq(err, "empty subject");
	ck_assert_ptr_null(jwt);
	p.sub = NULL;
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	p.sub = "alice";
	p.ttl = -5;
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	ck_assert_str_eq(err, "non-positive lifetime");
	p.ttl = 0;
	cfg.token.ttl = 0;
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	cfg.token.ttl = 3600;
	p.ttl = INT64_MAX;
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	ck_assert_str_eq(err, "expiry in the past or out of range");
	p.ttl = 10;
	ck_assert_int_eq(token_issue(ver, &p, -100, &jwt, &jti, &err),
	    TOKEN_INVALID);
	p.ttl = 0;
	c = json_pack("{s:s}", "sub", "root");
	p.claims = c;
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	json_decref(c);
	p.claims = NULL;
	p.extras = json_string("x");
	ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt, &jti, &err),
	    TOKEN_INVALID);
	json_decref(p.extras);
}
END_TEST

START_TEST(issue_unique_jti)
{
	struct token_params p = {.sub = "alice"};
	char               *jwt[2], *jti[2];
	const char         *err;
	int                 i;

	for (i = 0; i < 2; i++)
		ck_assert_int_eq(token_issue(ver, &p, NOW, &jwt[i], &jti[i],
		                     &err),
		    TOKEN_OK);
	ck_assert_str_ne(jti[0], jti[1]);
	ck_assert_str_ne(jwt[0], jwt[1]);
	for (i = 0; i < 2; i++) {
		free(jwt[i]);
		free(jti[i]);
	}
}
END_TEST

START_TEST(claim_args)
{
	json_t     *c = json_object();
	const char *err;

	ck_assert_int_eq(token_claim_arg(c, "team=42", &err), 0);
	ck_assert_int_eq(token_claim_arg(c, "name=Alice Liddell", &err), 0);
	ck_assert_int_eq(token_claim_arg(c, "admin=true", &err), 0);
	ck_assert_int_eq(token_claim_arg(c, "s=\"42\"", &err), 0);
	ck_assert_int_eq(token_claim_arg(c, "l=[\"a\",\"b\"]", &err), 0);
	ck_assert_int_eq(token_claim_arg(c, "empty=", &err), 0);
	ck_assert_int_eq(token_claim_arg(c, "eq=a=b", &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "team")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(c, "name")),
	    "Alice Liddell");
	ck_assert(json_is_true(json_object_get(c, "admin")));
	ck_assert_str_eq(json_string_value(json_object_get(c, "s")), "42");
	ck_assert_int_eq(json_array_size(json_object_get(c, "l")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(c, "empty")), "");
	ck_assert_str_eq(json_string_value(json_object_get(c, "eq")), "a=b");
	ck_assert_int_eq(token_claim_arg(c, "noequals", &err), -1);
	ck_assert_int_eq(token_claim_arg(c, "=x", &err), -1);
	ck_assert_int_eq(token_claim_arg(c, "sub=root", &err), -1);
	ck_assert_int_eq(token_claim_arg(c, "exp=1", &err), -1);
	ck_assert_int_eq(token_claim_arg(c, "bad=\xff", &err), -1);
	json_decref(c);
}
END_TEST

/* ---- concurrency ---------------------------------------------------- */

struct worker {
	const struct token_verifier *v;
	const char                  *tok;
	int                          rounds;
	int                          bad;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	int            i;

	for (i = 0; i < w->rounds; i++)
		if (token_verify(w->v, w->tok, strlen(w->tok), NOW, NULL,
		        NULL) != TOKEN_OK)
			w->bad++;
	return NULL;
}

START_TEST(concurrent_verify)
{
	pthread_t     th[8];
	struct worker w[8];
	char         *tok;
	int           i;

	start(&fx[_i == 0 ? 0 : 6]);
	tok = issue(NOW);
	for (i = 0; i < 8; i++) {
		/* ECDSA costs ~75 us a check: keep this short on 2 CPUs. */
		w[i] = (struct worker){ver, tok, _i == 0 ? 2000 : 100, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run,
		                     &w[i]),
		    0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(w[i].bad, 0);
	}
	free(tok);
}
END_TEST

/* ---- interop with PyJWT ------------------------------------------- */

/* Run the interop script; its stdout into out. */
static int interop(char *out, size_t outlen, const char *fmtstr, ...)
    __attribute__((format(printf, 3, 4)));

static int
interop(char *out, size_t outlen, const char *fmtstr, ...)
{
	char    args[4096], cmd[8192];
	va_list ap;
	FILE   *p;
	size_t  n;

	va_start(ap, fmtstr);
	vsnprintf(args, sizeof(args), fmtstr, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s %s", PYTHON, INTEROP, args);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	return pclose(p);
}

START_TEST(interop_pyjwt_verifies_jwtgate)
{
	const struct alg_fixture *f = &fx[_i];
	struct token_params       p = {.sub = "alice"};
	char                     *jwt, out[4096];
	const char               *err;
	json_t                   *claims;
	int64_t                   now = (int64_t)time(NULL);

	cfg.token.issuer = "https://auth.example";
	start(f);
	p.extras = json_pack("{s:[s]}", "roles", "admin");
	ck_assert_int_eq(token_issue(ver, &p, now, &jwt, NULL, &err), TOKEN_OK);
	json_decref(p.extras);
	ck_assert_int_eq(interop(out, sizeof(out), "verify %s %s %s", f->name,
	                     f->key, jwt),
	    0);
	ck_assert_ptr_nonnull(claims = json_loads(out, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")),
	    "alice");
	ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")),
	    "https://auth.example");
	json_decref(claims);
	/* And a tampered one fails there too. */
	jwt[strlen(jwt) - 2] = jwt[strlen(jwt) - 2] == 'a' ? 'b' : 'a';
	ck_assert_int_ne(interop(out, sizeof(out),
	                     "verify %s %s %s "
	                     "2>/dev/null",
	                     f->name, f->key, jwt),
	    0);
	free(jwt);
}
END_TEST

START_TEST(interop_jwtgate_verifies_pyjwt)
{
	const struct alg_fixture *f = &fx[_i];
	char                      out[4096];
	const char               *why;
	json_t                   *claims;

	cfg.token.issuer = "https://py.example";
	list_set(&cfg.token.accepted_issuers, "https://py.example", NULL);
	list_set(&cfg.token.accepted_audiences, "api", NULL);
	start(f);
	ck_assert_int_eq(interop(out, sizeof(out),
	                     "mint %s %s bob %d "
	                     "https://py.example api",
	                     f->name, f->key, NOW),
	    0);
	ck_assert_int_eq(token_verify(ver, out, strlen(out), NOW, &claims,
	                     &why),
	    TOKEN_OK);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")),
	    "bob");
	json_decref(claims);
	/* PyJWT with a kid header: the configured kid is honoured. */
	ck_assert_int_eq(interop(out, sizeof(out),
	                     "mint %s %s bob %d "
	                     "https://py.example api %s",
	                     f->name, f->key, NOW, keys_kid(keys_at(ring, 0))),
	    0);
	expect(out, TOKEN_OK, NULL);
	ck_assert_int_eq(interop(out, sizeof(out),
	                     "mint %s %s bob %d "
	                     "https://py.example api other-kid",
	                     f->name, f->key, NOW),
	    0);
	expect(out, TOKEN_INVALID, "kid names no configured key");
}
END_TEST

static Suite *
token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc;

	tc = tcase_create("roundtrip");
	tcase_add_checked_fixture(tc, setup_loop, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, roundtrip, 0, 9);
	tcase_add_loop_test(tc, es_many, 6, 9);
	tcase_add_loop_test(tc, rotation, 0, 9);
	tcase_add_loop_test(tc, remembered_tokens, 0, 9);
	suite_add_tcase(s, tc);

	tc = tcase_create("b64url");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, b64url_canonical);
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc7515");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup_hs256, teardown);
	tcase_add_test(tc, rfc7515_a1);
	tcase_add_test(tc, rfc7515_a5);
	suite_add_tcase(s, tc);

	tc = tcase_create("traps");
	tcase_add_checked_fixture(tc, setup_hs256, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, trap_hs256_with_rsa_public_pem);
	tcase_add_test(tc, trap_alg_spelling);
	tcase_add_test(tc, trap_empty_signature);
	tcase_add_loop_test(tc, trap_signature_injection, 0, 9);
	tcase_add_loop_test(tc, trap_ecdsa_high_s, 0, 3);
	tcase_add_test(tc, trap_duplicate_keys);
	tcase_add_test(tc, trap_payload_shapes);
	tcase_add_test(tc, trap_exp_types);
	tcase_add_test(tc, trap_missing_claims);
	tcase_add_test(tc, trap_huge_token);
	tcase_add_test(tc, trap_crit);
	tcase_add_test(tc, trap_kid);
	tcase_add_test(tc, trap_jku_jwk);
	tcase_add_test(tc, header_typ);
	tcase_add_test(tc, form);
	suite_add_tcase(s, tc);

	tc = tcase_create("claims");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup_hs256, teardown);
	tcase_add_test(tc, claims_time);
	tcase_add_test(tc, claims_leeway);
	tcase_add_test(tc, claims_types);
	tcase_add_test(tc, claims_issuer);
	tcase_add_test(tc, claims_audience);
	tcase_add_test(tc, claims_required_and_extras);
	suite_add_tcase(s, tc);

	tc = tcase_create("issue");
	tcase_add_checked_fixture(tc, setup_hs256, teardown);
	tcase_add_test(tc, issue_refusals);
	tcase_add_test(tc, issue_unique_jti);
	tcase_add_test(tc, claim_args);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, concurrent_verify, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("interop");
	tcase_add_checked_fixture(tc, setup_loop, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, interop_pyjwt_verifies_jwtgate, 0, 9);
	tcase_add_loop_test(tc, interop_jwtgate_verifies_pyjwt, 0, 9);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(token_suite());
	int      failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
