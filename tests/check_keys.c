/*
 * check_keys.c - keys.c: what each algorithm accepts as a key, kid values
 * (RFC 7638 and the HMAC id), JWKS, retired keys and keygen.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "config.h"
#include "keys.h"
#include "log.h"

#define KEYDIR FIXTURES "/keys/"

static struct config        cfg;
static char                *retired[4];
static struct config_errors errs;
static char                 errbuf[512]; /* keys_generate() */
static char                 tmpdir[64];

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(retired, 0, sizeof(retired));
	cfg.token.retired_key_files.v = retired;
	memset(&errs, 0, sizeof errs);
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_keys.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)system(cmd);
}

static void
use(enum token_alg alg, const char *active)
{
	cfg.token.algorithm = alg;
	if (alg <= ALG_HS512)
		cfg.token.secret_file = (char *)active;
	else
		cfg.token.private_key_file = (char *)active;
}

static void
add_retired(const char *path)
{
	retired[cfg.token.retired_key_files.n++] = (char *)path;
}

static struct keyring *
load_ok(void)
{
	struct keyring *ring = NULL;

	memset(&errs, 0, sizeof errs);
	ck_assert_msg(keys_load(&cfg, &ring, &errs) == 0, "keys_load: %s",
	    errs.msg[0]);
	ck_assert_ptr_nonnull(ring);
	return ring;
}

static void
load_fails(const char *needle)
{
	struct keyring *ring = (struct keyring *)1;

	memset(&errs, 0, sizeof errs);
	ck_assert_int_eq(keys_load(&cfg, &ring, &errs), -1);
	ck_assert_ptr_null(ring);
	ck_assert_uint_ge(errs.n, 1);
	ck_assert_msg(strstr(errs.msg[0], needle) != NULL, "'%s' lacks '%s'",
	    errs.msg[0], needle);
}

static char *
tmpfile_with(const char *name, const void *data, size_t len)
{
	static char path[4][128];
	static int  next;
	char       *p = path[next++ % 4];
	FILE       *f;

	snprintf(p, 128, "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	chmod(p, 0600);
	return p;
}

/* The HMAC kid computed independently: base64url(SHA-256)[0:16]. */
static void
expect_hmac_kid(const struct keyring *ring, const char *secret, size_t len)
{
	unsigned char d[32];
	char          enc[64];

	EVP_Digest(secret, len, d, NULL, EVP_sha256(), NULL);
	b64url_encode(d, 32, enc);
	enc[16] = '\0';
	ck_assert_str_eq(keys_kid(keys_at(ring, 0)), enc);
}

START_TEST(hmac_lengths)
{
	struct keyring *ring;

	use(ALG_HS256, KEYDIR "hs32.secret");
	ring = load_ok();
	ck_assert_uint_eq(keys_siglen(keys_at(ring, 0)), 32);
	ck_assert_uint_eq(strlen(keys_kid(keys_at(ring, 0))), 16);
	keys_free(ring);
	use(ALG_HS384, KEYDIR "hs48.secret");
	ring = load_ok();
	ck_assert_uint_eq(keys_siglen(keys_at(ring, 0)), 48);
	keys_free(ring);
	use(ALG_HS512, KEYDIR "hs64.secret");
	ring = load_ok();
	ck_assert_uint_eq(keys_siglen(keys_at(ring, 0)), 64);
	keys_free(ring);

	use(ALG_HS384, KEYDIR "hs32.secret");
	load_fails("48 bytes HS384 requires");
	use(ALG_HS512, KEYDIR "hs48.secret");
	load_fails("64 bytes HS512 requires");
}
END_TEST

START_TEST(hmac_short_secret_names_file_not_secret)
{
	use(ALG_HS256, KEYDIR "short31.secret");
	load_fails(KEYDIR "short31.secret: secret shorter than the 32 bytes");
	/* Neither the secret nor its length (31) may leak. */
	ck_assert_ptr_null(strstr(errs.msg[0], "0123456789"));
	ck_assert_ptr_null(strstr(strstr(errs.msg[0], ".secret: "), "31"));
}
END_TEST

START_TEST(hmac_one_newline_stripped)
{
	const char     *s = "abcdefghijklmnopqrstuvwxyz012345";
	char            buf[64];
	struct keyring *ring;

	use(ALG_HS256, tmpfile_with("plain", s, 32));
	ring = load_ok();
	expect_hmac_kid(ring, s, 32);
	keys_free(ring);

	snprintf(buf, sizeof(buf), "%s\n", s);
	use(ALG_HS256, tmpfile_with("nl", buf, 33));
	ring = load_ok();
	expect_hmac_kid(ring, s, 32);
	keys_free(ring);

	/* Only one: the second newline is part of the secret. */
	snprintf(buf, sizeof(buf), "%s\n\n", s);
	use(ALG_HS256, tmpfile_with("nl2", buf, 34));
	ring = load_ok();
	expect_hmac_kid(ring, buf, 33);
	keys_free(ring);

	/* 31 bytes and a newline are still 31 bytes. */
	use(ALG_HS256,
	    tmpfile_with("short", "0123456789012345678901234567890\n", 32));
	load_fails("shorter than");
}
END_TEST

/*
 * A key is never an HMAC secret: a published RSA or EC public key used as
 * one would let anyone sign tokens. PEM of any kind and DER keys are
 * refused, as the active secret and as a retired one.
 */
START_TEST(hmac_secret_not_a_key)
{
	static const char *const pems[] = {"rsa2048.pub.pem",
	    "rsa2048.pkcs1.pub.pem", "rsa2048.pem", "ec256b.pub.pem",
	    "ec256.pem"};
	char                     path[256], cmd[600];
	size_t                   i;
	struct keyring          *ring;

	for (i = 0; i < sizeof pems / sizeof pems[0]; i++) {
		snprintf(path, sizeof path, KEYDIR "%s", pems[i]);
		use(ALG_HS256, path);
		load_fails("a key (PEM or DER), not an HMAC secret");
		use(ALG_HS256, KEYDIR "hs32.secret");
		add_retired(path);
		load_fails("a key (PEM or DER), not an HMAC secret");
		cfg.token.retired_key_files.n = 0;
	}
	/* The same public key in DER. */
	snprintf(path, sizeof path, "%s/pub.der", tmpdir);
	snprintf(cmd, sizeof cmd,
	    "openssl pkey -pubin -in " KEYDIR "rsa2048.pub.pem -outform DER "
	    "-out %s 2>/dev/null",
	    path);
	ck_assert_int_eq(system(cmd), 0);
	chmod(path, 0600);
	use(ALG_HS512, path);
	load_fails("a key (PEM or DER), not an HMAC secret");
	/* A secret that merely mentions PEM armour is refused too. */
	use(ALG_HS256,
	    tmpfile_with("armour",
	        "-----BEGIN-----0123456789abcdef0123456789abcdef", 47));
	load_fails("not an HMAC secret");
	/* A real secret still loads. */
	use(ALG_HS256, KEYDIR "hs32.secret");
	ring = load_ok();
	keys_free(ring);
}
END_TEST

/* Every bad key is reported, each under the key that names it. */
START_TEST(every_bad_key_reported)
{
	struct keyring *ring = NULL;

	use(ALG_HS256, KEYDIR "short31.secret");
	add_retired(KEYDIR "rsa2048.pub.pem");
	add_retired(KEYDIR "hs32.secret");
	add_retired("/nonexistent/old.secret");
	ck_assert_int_eq(keys_load(&cfg, &ring, &errs), -1);
	ck_assert_ptr_null(ring);
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_ptr_nonnull(strstr(errs.msg[0], "[token] secret_file: "));
	ck_assert_ptr_nonnull(strstr(errs.msg[0], "short31.secret: secret"));
	ck_assert_ptr_nonnull(
	    strstr(errs.msg[1], "[token] retired_key_files: "));
	ck_assert_ptr_nonnull(strstr(errs.msg[1], "rsa2048.pub.pem: a key"));
	ck_assert_ptr_nonnull(strstr(errs.msg[2], "/nonexistent/old.secret"));
}
END_TEST

START_TEST(missing_files)
{
	use(ALG_HS256, NULL);
	load_fails("[token] secret_file: required for HS256");
	use(ALG_RS256, NULL);
	load_fails("[token] private_key_file: required for RS256");
	use(ALG_HS256, "/nonexistent/secret");
	load_fails("/nonexistent/secret: No such file");
	use(ALG_ES256, tmpdir);
	load_fails("not a regular file");
}
END_TEST

START_TEST(rsa_rules)
{
	struct keyring *ring;

	use(ALG_RS256, KEYDIR "rsa2048.pem");
	ring = load_ok();
	ck_assert_uint_eq(keys_siglen(keys_at(ring, 0)), 256);
	ck_assert_uint_eq(strlen(keys_kid(keys_at(ring, 0))), 43);
	keys_free(ring);

	use(ALG_RS512, KEYDIR "rsa1024.pem");
	load_fails("rsa1024.pem: RSA key of 1024 bits; at least 2048");
	use(ALG_RS256, KEYDIR "rsapss2048.pem");
	load_fails("not an RSA key");
	use(ALG_RS256, KEYDIR "ec256.pem");
	load_fails("ec256.pem: not an RSA key");
	use(ALG_RS256, KEYDIR "ed25519.pem");
	load_fails("not an RSA key");
	use(ALG_RS256, KEYDIR "rsa2048.enc.pem");
	load_fails("encrypted");
	/* The active key must be private. */
	use(ALG_RS256, KEYDIR "rsa2048.pub.pem");
	load_fails("no PEM private key");
	use(ALG_RS256, KEYDIR "hs32.secret");
	load_fails("no PEM private key");
}
END_TEST

START_TEST(ec_curves)
{
	static const struct {
		enum token_alg alg;
		const char    *file;
		size_t         siglen;
	} ok[] = {
	    {ALG_ES256, KEYDIR "ec256.pem", 64},
	    {ALG_ES384, KEYDIR "ec384.pem", 96},
	    {ALG_ES512, KEYDIR "ec521.pem", 132},
	};
	struct keyring *ring;
	size_t          i;

	for (i = 0; i < 3; i++) {
		use(ok[i].alg, ok[i].file);
		ring = load_ok();
		ck_assert_uint_eq(keys_siglen(keys_at(ring, 0)), ok[i].siglen);
		keys_free(ring);
	}
	use(ALG_ES256, KEYDIR "ec384.pem");
	load_fails("not on curve P-256");
	use(ALG_ES384, KEYDIR "ec256.pem");
	load_fails("not on curve P-384");
	use(ALG_ES512, KEYDIR "ec384.pem");
	load_fails("not on curve P-521");
	use(ALG_ES256, KEYDIR "ec256k1.pem");
	load_fails("not on curve P-256");
	use(ALG_ES256, KEYDIR "rsa2048.pem");
	load_fails("not an EC key");
}
END_TEST

START_TEST(pkcs1_same_kid)
{
	struct keyring *a, *b;

	use(ALG_RS256, KEYDIR "rsa2048.pem");
	a = load_ok();
	use(ALG_RS256, KEYDIR "rsa2048.pkcs1.pem");
	b = load_ok();
	ck_assert_str_eq(keys_kid(keys_at(a, 0)), keys_kid(keys_at(b, 0)));
	keys_free(a);
	keys_free(b);
}
END_TEST

/* RFC 7638 section 3.1: the example key and its thumbprint. */
START_TEST(rfc7638_thumbprint)
{
	static const char n64[] =
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu"
	    "1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4"
	    "Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaS"
	    "qzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWh"
	    "AI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kE"
	    "gU8awapJzKnqDKgw";
	unsigned char   nbin[512], ebin[] = {1, 0, 1};
	long            nlen = b64url_decode(n64, strlen(n64), nbin);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM     *params;
	EVP_PKEY_CTX   *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY       *pkey = NULL;
	BIGNUM         *n, *e;
	FILE           *f;
	char           *path;
	struct keyring *ring;
	json_t         *jwks;

	ck_assert_int_gt(nlen, 0);
	n = BN_bin2bn(nbin, (int)nlen, NULL);
	e = BN_bin2bn(ebin, 3, NULL);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	params = OSSL_PARAM_BLD_to_param(bld);
	ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY,
	                     params),
	    1);
	path = tmpfile_with("rfc7638.pem", "", 0);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	PEM_write_PUBKEY(f, pkey);
	fclose(f);

	use(ALG_RS256, KEYDIR "rsa2048.pem");
	add_retired(path);
	ring = load_ok();
	ck_assert_str_eq(keys_kid(keys_at(ring, 1)),
	    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	jwks = keys_jwks(ring);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(jwks, "keys"), 1),
	                     "n")),
	    n64);
	json_decref(jwks);
	keys_free(ring);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
}
END_TEST

START_TEST(retired_keys)
{
	struct keyring *ring;

	use(ALG_RS256, KEYDIR "rsa2048.pem");
	add_retired(KEYDIR "rsa3072.pub.pem");
	add_retired(KEYDIR "rsa2048.pkcs1.pub.pem");
	load_fails("rsa2048.pkcs1.pub.pem: the same key as");

	cfg.token.retired_key_files.n = 0;
	add_retired(KEYDIR "rsa3072.pub.pem");
	add_retired(KEYDIR "rsa3072.pem");
	load_fails("the same key as");

	cfg.token.retired_key_files.n = 0;
	add_retired(KEYDIR "rsa3072.pem"); /* private: public part used */
	ring = load_ok();
	ck_assert_uint_eq(keys_count(ring), 2);
	ck_assert_uint_eq(keys_siglen(keys_at(ring, 1)), 384);
	ck_assert_ptr_eq(keys_find(ring, keys_kid(keys_at(ring, 1)), 43),
	    keys_at(ring, 1));
	ck_assert_ptr_null(keys_find(ring, keys_kid(keys_at(ring, 1)), 42));
	keys_free(ring);

	cfg.token.retired_key_files.n = 0;
	add_retired(KEYDIR "rsa1024.pem");
	load_fails("rsa1024.pem: RSA key of 1024 bits");

	use(ALG_ES256, KEYDIR "ec256.pem");
	cfg.token.retired_key_files.n = 0;
	add_retired(KEYDIR "ec256b.pub.pem");
	ring = load_ok();
	ck_assert_uint_eq(keys_count(ring), 2);
	keys_free(ring);
	add_retired(KEYDIR "ec384.pem");
	load_fails("ec384.pem: EC key not on curve P-256");

	use(ALG_HS256, KEYDIR "hs32.secret");
	cfg.token.retired_key_files.n = 0;
	add_retired(KEYDIR "hs32b.secret");
	ring = load_ok();
	ck_assert_uint_eq(keys_count(ring), 2);
	keys_free(ring);
	add_retired(KEYDIR "short31.secret");
	load_fails("short31.secret: secret shorter");
	cfg.token.retired_key_files.n = 0;
	add_retired(KEYDIR "hs32.secret");
	load_fails("the same key as");
}
END_TEST

static void
check_jwk(const json_t *jwk, const char *kty, const char *alg)
{
	static const char *const private_members[] = {"d", "p", "q", "dp", "dq",
	    "qi", "k"};
	size_t                   i;

	ck_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), kty);
	ck_assert_str_eq(json_string_value(json_object_get(jwk, "alg")), alg);
	ck_assert_str_eq(json_string_value(json_object_get(jwk, "use")), "sig");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(jwk, "kid")));
	for (i = 0; i < sizeof(private_members) / sizeof(*private_members); i++)
		ck_assert_ptr_null(json_object_get(jwk, private_members[i]));
}

START_TEST(jwks)
{
	struct keyring *ring;
	json_t         *j, *k;
	char           *dump;

	use(ALG_HS256, KEYDIR "hs32.secret");
	ring = load_ok();
	j = keys_jwks(ring);
	dump = json_dumps(j, JSON_COMPACT);
	ck_assert_str_eq(dump, "{\"keys\":[]}");
	free(dump);
	json_decref(j);
	keys_free(ring);

	use(ALG_RS384, KEYDIR "rsa2048.pem");
	add_retired(KEYDIR "rsa3072.pem");
	ring = load_ok();
	j = keys_jwks(ring);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "keys")), 2);
	k = json_array_get(json_object_get(j, "keys"), 0);
	check_jwk(k, "RSA", "RS384");
	ck_assert_str_eq(json_string_value(json_object_get(k, "kid")),
	    keys_kid(keys_at(ring, 0)));
	ck_assert_str_eq(json_string_value(json_object_get(k, "e")), "AQAB");
	check_jwk(json_array_get(json_object_get(j, "keys"), 1), "RSA",
	    "RS384");
	json_decref(j);
	keys_free(ring);

	use(ALG_ES512, KEYDIR "ec521.pem");
	cfg.token.retired_key_files.n = 0;
	ring = load_ok();
	j = keys_jwks(ring);
	k = json_array_get(json_object_get(j, "keys"), 0);
	check_jwk(k, "EC", "ES512");
	ck_assert_str_eq(json_string_value(json_object_get(k, "crv")), "P-521");
	/* Fixed width: 66 bytes each, whatever their leading zeros. */
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(k, "x"))),
	    88);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(k, "y"))),
	    88);
	json_decref(j);
	keys_free(ring);
}
END_TEST

START_TEST(generate)
{
	static const enum token_alg algs[] = {ALG_HS256, ALG_HS384, ALG_HS512,
	    ALG_RS256, ALG_ES256, ALG_ES384, ALG_ES512};
	struct keyring             *ring;
	struct stat                 st;
	char                        path[128];
	size_t                      i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(path, sizeof(path), "%s/key%zu", tmpdir, i);
		ck_assert_msg(keys_generate(algs[i], path, errbuf,
		                  sizeof(errbuf)) == 0,
		    "%s", errbuf);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_eq(st.st_mode & 0777, 0600);
		use(algs[i], path);
		ring = load_ok();
		keys_free(ring);
		/* Never overwritten. */
		ck_assert_int_eq(keys_generate(algs[i], path, errbuf,
		                     sizeof(errbuf)),
		    -1);
		ck_assert_ptr_nonnull(strstr(errbuf, "File exists"));
	}
	snprintf(path, sizeof(path), "%s/none/key", tmpdir);
	ck_assert_int_eq(keys_generate(ALG_ES256, path, errbuf, sizeof(errbuf)),
	    -1);
	ck_assert_ptr_nonnull(strstr(errbuf, path));
}
END_TEST

/* RSA key generation is slow; one size is enough here. */
START_TEST(generate_rsa512)
{
	struct keyring *ring;
	char            path[128];

	snprintf(path, sizeof(path), "%s/rs512", tmpdir);
	ck_assert_int_eq(keys_generate(ALG_RS512, path, errbuf, sizeof(errbuf)),
	    0);
	use(ALG_RS512, path);
	ring = load_ok();
	ck_assert_uint_eq(keys_siglen(keys_at(ring, 0)), 512);
	keys_free(ring);
}
END_TEST

static Suite *
keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hmac_lengths);
	tcase_add_test(tc, hmac_short_secret_names_file_not_secret);
	tcase_add_test(tc, hmac_one_newline_stripped);
	tcase_add_test(tc, missing_files);
	tcase_add_test(tc, hmac_secret_not_a_key);
	tcase_add_test(tc, every_bad_key_reported);
	tcase_add_test(tc, rsa_rules);
	tcase_add_test(tc, ec_curves);
	tcase_add_test(tc, pkcs1_same_kid);
	tcase_add_test(tc, rfc7638_thumbprint);
	tcase_add_test(tc, retired_keys);
	tcase_add_test(tc, jwks);
	tcase_add_test(tc, generate);
	tcase_add_test(tc, generate_rsa512);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(keys_suite());
	int      failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
