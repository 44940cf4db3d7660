/*
 * check_password.c - hash formats (known answers from the reference tools),
 * malformed and refused hashes, new hashes, and the hash pool.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashpool.h"
#include "password.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

struct kat {
	char label[64];
	char password[128];
	char hash[256];
};

static struct kat kats[32];
static size_t     nkats;

static void
load_kats(void)
{
	char  line[512], *tab1, *tab2;
	FILE *fp;

	if (nkats > 0)
		return;
	fp = fopen(FIXTURES "/users/hashes.txt", "r");
	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		tab1 = strchr(line, '\t');
		ck_assert_ptr_nonnull(tab1);
		tab2 = strchr(tab1 + 1, '\t');
		ck_assert_ptr_nonnull(tab2);
		*tab1 = *tab2 = '\0';
		ck_assert_uint_lt(nkats, 32);
		snprintf(kats[nkats].label, sizeof kats[0].label, "%.63s",
		    line);
		snprintf(kats[nkats].password, sizeof kats[0].password,
		    "%.127s", tab1 + 1);
		snprintf(kats[nkats].hash, sizeof kats[0].hash, "%.255s",
		    tab2 + 1);
		nkats++;
	}
	fclose(fp);
	ck_assert_uint_ge(nkats, 12);
}

START_TEST(test_known_answers)
{
	const char *why = NULL;
	char        wrong[160];
	size_t      i;

	load_kats();
	for (i = 0; i < nkats; i++) {
		const struct kat *k = &kats[i];

		ck_assert_msg(password_check_format(k->hash, &why) == 0,
		    "%s: %s", k->label, why);
		ck_assert_msg(password_verify(k->hash, k->password) == 1,
		    "%s: right password refused", k->label);
		snprintf(wrong, sizeof wrong, "%sx", k->password);
		ck_assert_msg(password_verify(k->hash, wrong) == 0,
		    "%s: longer password accepted", k->label);
		snprintf(wrong, sizeof wrong, "%.*s",
		    (int)strlen(k->password) - 1, k->password);
		ck_assert_msg(password_verify(k->hash, wrong) == 0,
		    "%s: shorter password accepted", k->label);
		ck_assert_msg(password_verify(k->hash, "") == 0,
		    "%s: empty password accepted", k->label);
		ck_assert_msg(password_verify(k->hash,
		                  "Correct horse battery "
		                  "staple") == 0,
		    "%s: case-folded password accepted", k->label);
	}
}
END_TEST

/*
 * Every truncation of every fixture is refused at load and by verify.
 * argon2 digests have no fixed length: there, cuts that leave at least the
 * 16-byte minimum (22 characters) may still parse.
 */
START_TEST(test_truncated)
{
	char        cut[256];
	const char *why;
	size_t      i, n, end;

	load_kats();
	for (i = 0; i < nkats; i++) {
		end = strlen(kats[i].hash);
		if (strncmp(kats[i].hash, "$argon2", 7) == 0)
			end = (size_t)(strrchr(kats[i].hash, '$') -
			          kats[i].hash) +
			    22;
		for (n = 0; n < end; n++) {
			snprintf(cut, sizeof cut, "%.*s", (int)n, kats[i].hash);
			why = NULL;
			ck_assert_msg(password_check_format(cut, &why) == -1,
			    "%s cut at %zu accepted", kats[i].label, n);
			ck_assert_ptr_nonnull(why);
			ck_assert_msg(password_verify(cut, kats[i].password) ==
			        -1,
			    "%s cut at %zu verified", kats[i].label, n);
		}
	}
}
END_TEST

static const struct {
	const char *hash;
	const char *why;
} malformed[] = {
    /* one character out of the alphabet */
    {"$2y$04$CUax7qBp77jrGmNqHYe97ORMpBauKnBW9h8JnSwbA/2Tm6/5Fh2n!",
        "malformed bcrypt hash"},
    /* cost out of range */
    {"$2b$99$TbKchlWcMB.3LvkvW2mE3u5.Z7NSvM53mrjA3We3J4RV02kiXV.qW",
        "malformed bcrypt hash"},
    {"$2b$03$TbKchlWcMB.3LvkvW2mE3u5.Z7NSvM53mrjA3We3J4RV02kiXV.qW",
        "malformed bcrypt hash"},
    /* one character too many */
    {"$2b$05$TbKchlWcMB.3LvkvW2mE3u5.Z7NSvM53mrjA3We3J4RV02kiXV.qWx",
        "malformed bcrypt hash"},
    {"$2y$04$CUax7qBp77jrGmNqHYe97ORMpBauKnBW9h8JnSwbA/2Tm6/5Fh2nm ",
        "malformed bcrypt hash"},
    {"$6$rounds=10$l7dbJ0YJOPYiEyVI$GKmJoCH6BZbf71QCSLH2.omI9zq.dYaRZmTRq"
     "b3/ww7A8lXEzjKAim9Rxt.vCcF8WjmPnPFCLfTQ2bd4rSHtb1",
        "malformed sha512crypt hash"},
    {"$6$rounds=01000$l7dbJ0YJOPYiEyVI$GKmJoCH6BZbf71QCSLH2.omI9zq.dYaRZm"
     "TRqb3/ww7A8lXEzjKAim9Rxt.vCcF8WjmPnPFCLfTQ2bd4rSHtb1",
        "malformed sha512crypt hash"},
    {"$6$$GKmJoCH6BZbf71QCSLH2.omI9zq.dYaRZmTRqb3/ww7A8lXEzjKAim9Rxt.vCcF"
     "8WjmPnPFCLfTQ2bd4rSHtb1",
        "malformed sha512crypt hash"},
    {"$5$rounds=1000$MTBg2BZTk5fraLHH$FVFWjJG8175kmqhw8J4BiaxyKk1Su/2wt6NV"
     "1Qd/29.x",
        "malformed sha256crypt hash"},
    {"$y$j75$/4yQp5LAUMKrIR.LJzLV40$o3LhWGJz3gUmRRGsKMWm8Vph2eSOOVaafTV9P"
     "qTPew3$",
        "malformed yescrypt hash"},
    {"$y$$/4yQp5LAUMKrIR.LJzLV40$o3LhWGJz3gUmRRGsKMWm8Vph2eSOOVaafTV9PqTP"
     "ew3",
        "malformed yescrypt hash"},
    {"$y$o3LhWGJz3gUmRRGsKMWm8Vph2eSOOVaafTV9PqTPew3",
        "malformed yescrypt hash"},
    {"$7$BU..../....ynqMGZgMn93Z4hStq9XG5/$vNWHOtmcA0kjQ5nH.z8C9KOD1/0J0H"
     "f3JB48NyVTru!",
        "malformed scrypt hash"},
    /* argon2: bad numbers, order, base64, lengths */
    {"$argon2id$v=19$m=64,t=0,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjz"
     "ZPnD5aRBASUZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=19$m=4,t=2,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjzZ"
     "PnD5aRBASUZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=18$m=64,t=2,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjz"
     "ZPnD5aRBASUZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=19$t=2,m=64,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjz"
     "ZPnD5aRBASUZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=19$m=064,t=2,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQj"
     "zZPnD5aRBASUZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=19$m=64,t=2,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjz"
     "ZPnD5aRBASUZn3jbky0Cd",
        "malformed argon2id hash"},
    {"$argon2id$v=19$m=64,t=2,p=1$and0Z2F0ZXNhbHQx=$stpOW9/aWo/IcWu/3EFQj"
     "zZPnD5aRBASUZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=19$m=64,t=2,p=1$c2FsdA$stpOW9/aWo/IcWu/3EFQjzZPnD5aRBAS"
     "UZn3jbky0Cc",
        "malformed argon2id hash"},
    {"$argon2id$v=19$m=64,t=2,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjz"
     "ZPnD5aRBASUZn3jbky0Cc$",
        "malformed argon2id hash"},
    {"$argon2i$v=19$m=99999999999,t=2,p=1$and0Z2F0ZXNhbHQz$khFL6P+eah9lDX"
     "lBi9fKcF4Q8QAmz4tprg/HtEbcmFM",
        "malformed argon2i hash"},
    /* refused by name */
    {"", "empty password hash"},
    {"correct horse battery staple",
        "not a password hash (plain-text passwords are not accepted)"},
    {"$1$WADwDAz7$7mzNt/ECCf8a50ToGqan7.", "MD5-crypt hashes are not accepted"},
    {"$apr1$Qpc8MJGz$k628LUkbEC11BDXvVJmMu0",
        "Apache MD5 (apr1) hashes are not accepted"},
    {"{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=", "{SHA} hashes are not accepted"},
    {"$argon2d$v=19$m=64,t=2,p=1$and0Z2F0ZXNhbHQx$stpOW9/aWo/IcWu/3EFQjzZ"
     "PnD5aRBASUZn3jbky0Cc",
        "argon2d hashes are not accepted (use argon2id)"},
    {"$2x$04$CUax7qBp77jrGmNqHYe97ORMpBauKnBW9h8JnSwbA/2Tm6/5Fh2nm",
        "bcrypt $2x$ hashes are not accepted"},
    {"$9$abc$def", "unsupported hash format"},
    {"{SMD5}abc", "unsupported hash format"},
    {"plARFGvDJbJsY",
        "not a password hash (plain-text passwords are not accepted)"},
};

START_TEST(test_malformed)
{
	const char *why;
	size_t      i;

	load_kats();
	for (i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		why = NULL;
		ck_assert_msg(password_check_format(malformed[i].hash, &why) ==
		        -1,
		    "accepted: %s", malformed[i].hash);
		ck_assert_str_eq(why, malformed[i].why);
		ck_assert_int_eq(password_verify(malformed[i].hash,
		                     "correct horse battery staple"),
		    -1);
		ck_assert_uint_eq(password_params_len(malformed[i].hash), 0);
	}
	ck_assert_int_eq(password_verify(NULL, "x"), -1);
	ck_assert_int_eq(password_verify(kats[0].hash, NULL), -1);
}
END_TEST

/* Structurally fine, but libcrypt refuses the parameters: caught by _like. */
START_TEST(test_bad_parameters)
{
	const char *bad = "$y$jZZ$/4yQp5LAUMKrIR.LJzLV40$o3LhWGJz3gUmRRGsKMWm8V"
	                  "ph2eSOOVaafTV9PqTPew3";
	const char *why = NULL;
	char       *out = (char *)1;

	ck_assert_int_eq(password_check_format(bad, &why), 0);
	ck_assert_int_eq(password_hash_like(bad, &out, &why), -1);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(why, "hash parameters rejected by libcrypt");
	ck_assert_int_eq(password_verify(bad, "x"), -1);
}
END_TEST

START_TEST(test_params_len)
{
	static const struct {
		const char *label;
		const char *prefix;
	} want[] = {
	    {"bcrypt-2y-htpasswd", "$2y$04$"},
	    {"yescrypt", "$y$j75$"},
	    {"scrypt", "$7$BU..../...."},
	    {"sha512crypt-rounds", "$6$rounds=1000$"},
	    {"sha512crypt", "$6$"},
	    {"argon2id", "$argon2id$v=19$m=64,t=2,p=1$"},
	    {"argon2i-v10", "$argon2i$v=16$m=64,t=1,p=1$"},
	};
	size_t i, j;

	load_kats();
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		for (j = 0; j < nkats; j++)
			if (strcmp(kats[j].label, want[i].label) == 0)
				break;
		ck_assert_uint_lt(j, nkats);
		ck_assert_uint_eq(password_params_len(kats[j].hash),
		    strlen(want[i].prefix));
		ck_assert(strncmp(kats[j].hash, want[i].prefix,
		              strlen(want[i].prefix)) == 0);
	}
}
END_TEST

START_TEST(test_hash_like)
{
	const char *why;
	char       *out;
	size_t      i, len;

	load_kats();
	for (i = 0; i < nkats; i++) {
		ck_assert_msg(password_hash_like(kats[i].hash, &out, &why) == 0,
		    "%s: %s", kats[i].label, why);
		len = password_params_len(kats[i].hash);
		ck_assert_uint_eq(password_params_len(out), len);
		ck_assert(strncmp(out, kats[i].hash, len) == 0);
		ck_assert_str_ne(out, kats[i].hash);
		ck_assert_int_eq(password_verify(out, kats[i].password), 0);
		free(out);
	}
}
END_TEST

/* New hashes load again and verify; the defaults are what we document. */
START_TEST(test_hash_new)
{
	static const struct {
		const char *name;
		const char *prefix;
	} algs[] = {
	    {"argon2id", "$argon2id$v=19$m=65536,t=3,p=1$"},
	    {"bcrypt", "$2b$12$"},
	    {"yescrypt", "$y$"},
	    {"sha512crypt", "$6$rounds=500000$"},
	};
	enum password_alg alg;
	const char       *why;
	char             *out;
	size_t            i;

	for (i = 0; i < sizeof algs / sizeof algs[0]; i++) {
		ck_assert_int_eq(password_alg_parse(algs[i].name, &alg), 0);
		ck_assert_int_eq(password_hash(alg, "s3cret ünïcode", &out,
		                     &why),
		    0);
		ck_assert_msg(strncmp(out, algs[i].prefix,
		                  strlen(algs[i].prefix)) == 0,
		    "%s", out);
		ck_assert_int_eq(password_check_format(out, &why), 0);
		ck_assert_int_eq(password_verify(out, "s3cret ünïcode"), 1);
		ck_assert_int_eq(password_verify(out, "s3cret unicode"), 0);
		free(out);
	}
	ck_assert_int_eq(password_alg_parse("md5", &alg), -1);
	ck_assert_int_eq(password_alg_parse("Argon2id", &alg), -1);
}
END_TEST

START_TEST(test_hash_refused)
{
	char        big[PASSWORD_MAX + 2];
	const char *why;
	char       *out;

	ck_assert_int_eq(password_hash(PASSWORD_ARGON2ID, "", &out, &why), -2);
	ck_assert_str_eq(why, "empty password");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(password_hash(PASSWORD_YESCRYPT, big, &out, &why), -2);
	ck_assert_str_eq(why, "password too long");
	/* libxcrypt takes at most 511 bytes; argon2id all 1024. */
	big[512] = '\0';
	ck_assert_int_eq(password_hash(PASSWORD_SHA512CRYPT, big, &out, &why),
	    -2);
	ck_assert_ptr_nonnull(strstr(why, "at most 511 bytes"));
	ck_assert_int_eq(password_hash(PASSWORD_YESCRYPT, big, &out, &why), -2);
	big[511] = '\0';
	ck_assert_int_eq(password_hash(PASSWORD_SHA512CRYPT, big, &out, &why),
	    0);
	/* A longer one is a wrong password for it, not an error. */
	big[511] = 'a';
	ck_assert_int_eq(password_verify(out, big), 0);
	free(out);
	big[73] = '\0';
	ck_assert_int_eq(password_hash(PASSWORD_BCRYPT, big, &out, &why), -2);
	ck_assert_str_eq(why,
	    "bcrypt uses only the first 72 bytes of a "
	    "password; use argon2id");
	ck_assert_ptr_null(out);
}
END_TEST

/* Past PASSWORD_MAX nothing is hashed and nothing matches. */
START_TEST(test_too_long)
{
	char big[PASSWORD_MAX + 2];

	load_kats();
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(password_verify(kats[0].hash, big), 0);
	password_dummy_verify(big);
}
END_TEST

START_TEST(test_dummy)
{
	const char *why;

	ck_assert_int_eq(password_check_format(password_dummy_hash(), &why), 0);
	ck_assert(strncmp(password_dummy_hash(),
	              "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0);
	ck_assert_int_eq(password_verify(password_dummy_hash(), "x"), 0);
	password_dummy_verify("x");
	password_dummy_verify(NULL);
}
END_TEST

static FILE *
pipe_with(const char *text)
{
	FILE *fp = tmpfile();

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	rewind(fp);
	return fp;
}

START_TEST(test_read_new)
{
	static const struct {
		const char *input, *want, *why;
	} cases[] = {
	    {"hunter2\n", "hunter2", NULL},
	    {"hunter2\r\n", "hunter2", NULL},
	    {"hunter2", "hunter2", NULL},
	    {"two words\n", "two words", NULL},
	    {"first\nsecond line\n", NULL,
	        "more than one line on standard input"},
	    {"first\n\n", NULL, "more than one line on standard input"},
	    {"\n", NULL, "empty password"},
	    {"", NULL, "no password given"},
	};
	const char *why;
	char       *out, big[PASSWORD_MAX + 10];
	size_t      i;
	FILE       *fp;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fp = pipe_with(cases[i].input);
		why = NULL;
		if (cases[i].want != NULL) {
			ck_assert_int_eq(password_read_new(fp, &out, &why), 0);
			ck_assert_str_eq(out, cases[i].want);
			password_free(out);
		} else {
			ck_assert_int_eq(password_read_new(fp, &out, &why), -1);
			ck_assert_str_eq(why, cases[i].why);
			ck_assert_ptr_null(out);
		}
		fclose(fp);
	}
	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	fp = pipe_with(big);
	ck_assert_int_eq(password_read_new(fp, &out, &why), -1);
	ck_assert_str_eq(why, "password too long");
	fclose(fp);
	/* A NUL byte is named as such, not taken for the end. */
	fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite("a\0b\n", 1, 4, fp), 4);
	rewind(fp);
	ck_assert_int_eq(password_read_new(fp, &out, &why), -1);
	ck_assert_str_eq(why, "password contains a NUL byte");
	ck_assert_ptr_null(out);
	fclose(fp);
}
END_TEST

/* The hash pool: results arrive, the queue is bounded. */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	int             results[64];
	int             n;
	int             gate; /* first callback blocks while 0 */
};

static void
pool_done(void *arg, int result)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->lock);
	w->results[w->n++] = result;
	pthread_cond_broadcast(&w->cond);
	while (!w->gate)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void
wait_for(struct waiter *w, int n)
{
	pthread_mutex_lock(&w->lock);
	while (w->n < n)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

START_TEST(test_pool_results)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    {0}, 0, 1};
	struct hashpool *pool;
	int              i, sum = 0;

	load_kats();
	pool = hashpool_new(2, 0);
	ck_assert_ptr_nonnull(pool);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(hashpool_submit(pool, kats[0].hash,
		                     i % 2 ? kats[0].password : "wrong",
		                     pool_done, &w),
		    0);
	ck_assert_int_eq(hashpool_submit(pool, "plain", "x", pool_done, &w), 0);
	wait_for(&w, 11);
	for (i = 0; i < 11; i++)
		sum += w.results[i];
	ck_assert_int_eq(sum, 5 - 1); /* five matches, one error */
	hashpool_free(pool);
}
END_TEST

START_TEST(test_pool_bounded)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    {0}, 0, 0};
	struct hashpool *pool;

	load_kats();
	pool = hashpool_new(1, 2);
	ck_assert_ptr_nonnull(pool);
	/* the worker takes the first job and blocks in its callback */
	ck_assert_int_eq(hashpool_submit(pool, kats[0].hash, "a", pool_done,
	                     &w),
	    0);
	wait_for(&w, 1);
	ck_assert_int_eq(hashpool_submit(pool, kats[0].hash, "b", pool_done,
	                     &w),
	    0);
	ck_assert_int_eq(hashpool_submit(pool, kats[0].hash, "c", pool_done,
	                     &w),
	    0);
	ck_assert_uint_eq(hashpool_pending(pool), 3);
	ck_assert_int_eq(hashpool_submit(pool, kats[0].hash, "d", pool_done,
	                     &w),
	    -1);
	pthread_mutex_lock(&w.lock);
	w.gate = 1;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	/* free drains what was queued */
	hashpool_free(pool);
	ck_assert_int_eq(w.n, 3);
}
END_TEST

/* An unknown user (NULL hash) is answered "no match" after the dummy. */
START_TEST(test_pool_dummy)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    {0}, 0, 1};
	struct hashpool *pool = hashpool_new(0, 0);

	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(hashpool_submit(pool, NULL, "guess", pool_done, &w),
	    0);
	wait_for(&w, 1);
	ck_assert_int_eq(w.results[0], 0);
	hashpool_free(pool);
}
END_TEST

static Suite *
password_suite(void)
{
	Suite *s = suite_create("password");
	TCase *tc = tcase_create("formats");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_known_answers);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_bad_parameters);
	tcase_add_test(tc, test_params_len);
	tcase_add_test(tc, test_hash_like);
	tcase_add_test(tc, test_hash_new);
	tcase_add_test(tc, test_hash_refused);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_dummy);
	tcase_add_test(tc, test_read_new);
	suite_add_tcase(s, tc);
	tc = tcase_create("hashpool");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pool_results);
	tcase_add_test(tc, test_pool_bounded);
	tcase_add_test(tc, test_pool_dummy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(password_suite());
	int      failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
