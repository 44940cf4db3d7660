/*
 * token_bench.c - ns/op of token_issue() and token_verify() for each
 * algorithm, next to the raw OpenSSL cost of the same signature check
 * (HMAC, RSA verify, ECDSA verify) and of that check plus parsing the two
 * JSON segments, measured in the same run with the same keys and token.
 * libjwt's jwt_decode() is shown for reference: it is what token.c does not
 * use for verification (see the comment at the top of token.c).
 *
 *   make bench/token_bench && bench/token_bench [seconds-per-figure]
 *
 * Single-threaded; figures in bench/README.md.
 */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "config.h"
#include "keys.h"
#include "log.h"
#include "token.h"

#define KEYDIR FIXTURES "/keys/"
#define NOW    1700000000

static const struct {
	enum token_alg alg;
	const char *name;
	const char *key;
	const char *md;
} algs[] = {
    {ALG_HS256, "HS256", KEYDIR "hs32.secret", "SHA256"},
    {ALG_HS384, "HS384", KEYDIR "hs48.secret", "SHA384"},
    {ALG_HS512, "HS512", KEYDIR "hs64.secret", "SHA512"},
    {ALG_RS256, "RS256", KEYDIR "rsa2048.pem", "SHA256"},
    {ALG_RS384, "RS384", KEYDIR "rsa2048.pem", "SHA384"},
    {ALG_RS512, "RS512", KEYDIR "rsa2048.pem", "SHA512"},
    {ALG_ES256, "ES256", KEYDIR "ec256.pem", "SHA256"},
    {ALG_ES384, "ES384", KEYDIR "ec384.pem", "SHA384"},
    {ALG_ES512, "ES512", KEYDIR "ec521.pem", "SHA512"},
};

/* Everything one measurement may touch. */
#define BENCH_TOKENS 4096 /* distinct tokens: 4x what a verifier remembers */

struct bench {
	struct token_verifier *v;
	const char *tok;
	size_t toklen;
	char *many[BENCH_TOKENS]; /* for first verifications */
	size_t next;
	const unsigned char *msg; /* header "." payload */
	size_t msglen;
	unsigned char hdr[512], pay[1024];
	size_t hdrlen, paylen;
	unsigned char secret[128];
	size_t secretlen;
	const EVP_MD *md;
	EVP_PKEY *pub;
	unsigned char sig[1024]; /* raw: HMAC or RSA; DER: ECDSA */
	size_t siglen;
	char *pem; /* public PEM, for libjwt */
	jwt_alg_t jwt_alg;
	volatile int sink;
};

static double seconds = 0.3;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per call of fn, run for about `seconds`. */
static double
measure(void (*fn)(struct bench *), struct bench *b)
{
	double start, elapsed;
	long n = 0, batch = 1;
	long i;

	fn(b); /* warm up */
	start = now_ns();
	do {
		for (i = 0; i < batch; i++)
			fn(b);
		n += batch;
		if (batch < 1024)
			batch *= 2;
		elapsed = now_ns() - start;
	} while (elapsed < seconds * 1e9);
	return elapsed / (double)n;
}

static void
run_issue(struct bench *b)
{
	struct token_params p = {.sub = "alice"};
	char *jwt, *jti;
	const char *err;

	if (token_issue(b->v, &p, NOW, &jwt, &jti, &err) != TOKEN_OK)
		abort();
	free(jwt);
	free(jti);
}

/* A token the verifier has (almost surely) not remembered: the full work. */
static void
run_verify_first(struct bench *b)
{
	const char *t = b->many[b->next++ % BENCH_TOKENS];
	json_t     *claims;

	if (token_verify(b->v, t, strlen(t), NOW, &claims, NULL) != TOKEN_OK)
		abort();
	json_decref(claims);
}

/* The same token again: remembered, only its claims' values judged. */
static void
run_verify(struct bench *b)
{
	json_t *claims;

	if (token_verify(b->v, b->tok, b->toklen, NOW, &claims, NULL) !=
	    TOKEN_OK)
		abort();
	json_decref(claims);
}

/* Raw signature check: HMAC one-shot, or EVP_DigestVerify with a ready key. */
static void
run_raw(struct bench *b)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	EVP_MD_CTX *ctx;

	if (b->pub == NULL) {
		HMAC(b->md, b->secret, (int)b->secretlen, b->msg, b->msglen,
		    mac, &maclen);
		b->sink += CRYPTO_memcmp(mac, b->sig, maclen);
		return;
	}
	ctx = EVP_MD_CTX_new();
	if (EVP_DigestVerifyInit(ctx, NULL, b->md, NULL, b->pub) != 1 ||
	    EVP_DigestVerify(ctx, b->sig, b->siglen, b->msg, b->msglen) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
}

/* The raw check plus parsing the decoded header and payload. */
static void
run_raw_json(struct bench *b)
{
	json_t *h, *p;

	run_raw(b);
	h = json_loadb((const char *)b->hdr, b->hdrlen, 0, NULL);
	p = json_loadb((const char *)b->pay, b->paylen, 0, NULL);
	if (h == NULL || p == NULL)
		abort();
	json_decref(h);
	json_decref(p);
}

static void
run_libjwt(struct bench *b)
{
	jwt_t *jwt = NULL;
	int rc;

	if (b->pub == NULL)
		rc = jwt_decode(&jwt, b->tok, b->secret, (int)b->secretlen);
	else
		rc = jwt_decode(&jwt, b->tok, (const unsigned char *)b->pem,
		    (int)strlen(b->pem));
	if (rc != 0)
		abort();
	jwt_free(jwt);
}

static void
read_secret(struct bench *b, const char *path)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		abort();
	b->secretlen = fread(b->secret, 1, sizeof(b->secret), f);
	fclose(f);
	if (b->secretlen > 0 && b->secret[b->secretlen - 1] == '\n')
		b->secretlen--;
}

/* Public key, its PEM, and the token's signature as OpenSSL wants it. */
static void
prepare_pkey(struct bench *b, const char *path)
{
	const char *s64 = strrchr(b->tok, '.') + 1;
	unsigned char raw[1024], *der = NULL;
	EVP_PKEY *priv;
	ECDSA_SIG *es;
	BIO *bio;
	FILE *f;
	long n;
	int derlen;
	char *data;

	if ((f = fopen(path, "r")) == NULL ||
	    (priv = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		abort();
	fclose(f);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, priv);
	n = BIO_get_mem_data(bio, &data);
	b->pem = strndup(data, (size_t)n);
	BIO_free(bio);
	bio = BIO_new_mem_buf(b->pem, -1);
	b->pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	EVP_PKEY_free(priv);

	n = b64url_decode(s64, strlen(s64), raw);
	if (!EVP_PKEY_is_a(b->pub, "EC")) {
		memcpy(b->sig, raw, (size_t)n);
		b->siglen = (size_t)n;
		return;
	}
	es = ECDSA_SIG_new();
	ECDSA_SIG_set0(es, BN_bin2bn(raw, (int)n / 2, NULL),
	    BN_bin2bn(raw + n / 2, (int)n / 2, NULL));
	derlen = i2d_ECDSA_SIG(es, &der);
	memcpy(b->sig, der, (size_t)derlen);
	b->siglen = (size_t)derlen;
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
}

static void
bench_alg(size_t i)
{
	static const jwt_alg_t jwt_algs[] = {JWT_ALG_HS256, JWT_ALG_HS384,
	    JWT_ALG_HS512, JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512,
	    JWT_ALG_ES256, JWT_ALG_ES384, JWT_ALG_ES512};
	struct config cfg;
	struct keyring *ring;
	struct bench b;
	struct token_params p = {.sub = "alice"};
	struct config_errors errs = {0};
	char *tok;
	const char *errstr, *d1, *d2;
	double issue, first, verify, raw, rawjson, libjwt;
	size_t j;

	memset(&cfg, 0, sizeof(cfg));
	memset(&b, 0, sizeof(b));
	cfg.token.algorithm = algs[i].alg;
	if (algs[i].alg <= ALG_HS512)
		cfg.token.secret_file = (char *)algs[i].key;
	else
		cfg.token.private_key_file = (char *)algs[i].key;
	cfg.token.ttl = 3600;
	cfg.token.verify_expiry = cfg.token.verify_not_before = true;
	cfg.token.max_token_bytes = 8192;
	if (keys_load(&cfg, &ring, &errs) == -1) {
		fprintf(stderr, "token_bench: %s\n", errs.msg[0]);
		exit(1);
	}
	b.v = token_verifier_new(&cfg, ring);
	p.extras = json_pack("{s:[s,s],s:s,s:s}", "roles", "admin", "dev",
	    "name", "Alice Liddell", "email", "alice@example.com");
	if (token_issue(b.v, &p, NOW, &tok, NULL, &errstr) != TOKEN_OK)
		abort();
	json_decref(p.extras);
	b.tok = tok;
	b.toklen = strlen(tok);
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	b.msg = (const unsigned char *)tok;
	b.msglen = (size_t)(d2 - tok);
	b.hdrlen = (size_t)b64url_decode(tok, (size_t)(d1 - tok), b.hdr);
	b.paylen = (size_t)b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), b.pay);
	b.md = EVP_MD_fetch(NULL, algs[i].md, NULL);
	b.jwt_alg = jwt_algs[i];
	if (algs[i].alg <= ALG_HS512) {
		read_secret(&b, algs[i].key);
		b.siglen = B64URL_DECLEN(strlen(d2 + 1));
		b64url_decode(d2 + 1, strlen(d2 + 1), b.sig);
	} else
		prepare_pkey(&b, algs[i].key);

	for (j = 0; j < BENCH_TOKENS; j++) {
		struct token_params q = {.sub = "alice"};

		if (token_issue(b.v, &q, NOW, &b.many[j], NULL, &errstr) !=
		    TOKEN_OK)
			abort();
	}
	issue = measure(run_issue, &b);
	first = measure(run_verify_first, &b);
	verify = measure(run_verify, &b);
	raw = measure(run_raw, &b);
	rawjson = measure(run_raw_json, &b);
	libjwt = measure(run_libjwt, &b);
	printf("%-6s %5zu %10.0f %10.0f %10.0f %10.0f %12.0f %10.0f %7.2f\n",
	    algs[i].name, b.toklen, issue, first, verify, raw, rawjson, libjwt,
	    first / rawjson);
	for (j = 0; j < BENCH_TOKENS; j++)
		free(b.many[j]);

	EVP_MD_free((EVP_MD *)b.md);
	EVP_PKEY_free(b.pub);
	free(b.pem);
	free(tok);
	token_verifier_free(b.v);
	keys_free(ring);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc > 1)
		seconds = atof(argv[1]);
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	printf("%s; %.1f s per figure; ns/op, one thread\n",
	    OpenSSL_version(OPENSSL_VERSION), seconds);
	printf("%-6s %5s %10s %10s %10s %10s %12s %10s %7s\n", "alg", "bytes",
	    "issue", "verify", "again", "raw-sig", "raw-sig+json", "libjwt",
	    "ratio");
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		bench_alg(i);
	return 0;
}
