/*
 * password_bench.c - does an unknown user cost the same time as a known
 * user with a wrong password? A measurement, not a test: it prints the
 * figures and leaves the judging to the reader (bench/README.md).
 *
 *   password_bench [ROUNDS]
 *
 * Scenario 1, the defaults: a known user with an argon2id hash made by
 * hash-password against password_dummy_verify() (hashpool_submit(NULL)).
 * Scenario 2, a file of bcrypt hashes: a known user against
 * users_dummy_hash(), and, to show why it exists, against the argon2id
 * default dummy. The paths are interleaved so drift hits both alike.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "password.h"
#include "users.h"

struct series {
	const char *label;
	double     *us;
	int         n;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
series_print(const struct series *s)
{
	double sum = 0, var = 0, mean, *sorted;
	int i;

	for (i = 0; i < s->n; i++)
		sum += s->us[i];
	mean = sum / s->n;
	for (i = 0; i < s->n; i++)
		var += (s->us[i] - mean) * (s->us[i] - mean);
	sorted = malloc(sizeof *sorted * (size_t)s->n);
	memcpy(sorted, s->us, sizeof *sorted * (size_t)s->n);
	qsort(sorted, (size_t)s->n, sizeof *sorted, cmp_double);
	printf("  %-38s n=%-3d mean %8.2f ms  median %8.2f ms  sd %6.2f ms\n",
	    s->label, s->n, mean / 1000, sorted[s->n / 2] / 1000,
	    sqrt(var / (s->n > 1 ? s->n - 1 : 1)) / 1000);
	free(sorted);
}

static double
series_median(const struct series *s)
{
	double *sorted, m;

	sorted = malloc(sizeof *sorted * (size_t)s->n);
	memcpy(sorted, s->us, sizeof *sorted * (size_t)s->n);
	qsort(sorted, (size_t)s->n, sizeof *sorted, cmp_double);
	m = sorted[s->n / 2];
	free(sorted);
	return m;
}

static double
time_verify(const char *hash, const char *password)
{
	uint64_t t0 = clock_mono_us();

	if (hash == NULL)
		password_dummy_verify(password);
	else
		(void)password_verify(hash, password);
	return (double)(clock_mono_us() - t0);
}

static void
compare(const char *title, const char *known, const char *unknown,
    const char *unknown_label, int rounds)
{
	struct series a = { "known user, wrong password", NULL, 0 };
	struct series b = { unknown_label, NULL, 0 };
	int i;

	a.us = calloc((size_t)rounds, sizeof *a.us);
	b.us = calloc((size_t)rounds, sizeof *b.us);
	(void)time_verify(known, "warm-up");
	(void)time_verify(unknown, "warm-up");
	for (i = 0; i < rounds; i++) {
		if (i % 2 == 0) {
			a.us[a.n++] = time_verify(known, "wrong password");
			b.us[b.n++] = time_verify(unknown, "wrong password");
		} else {
			b.us[b.n++] = time_verify(unknown, "wrong password");
			a.us[a.n++] = time_verify(known, "wrong password");
		}
	}
	printf("%s\n", title);
	series_print(&a);
	series_print(&b);
	printf("  difference of medians: %+.2f%%\n\n",
	    100 * (series_median(&b) - series_median(&a)) / series_median(&a));
	free(a.us);
	free(b.us);
}

int
main(int argc, char **argv)
{
	char path[] = "/tmp/password_bench.XXXXXX", *argon, *bcrypt;
	const char *why;
	struct config cfg;
	struct userdb *db;
	struct config_errors errs;
	int rounds = argc > 1 ? atoi(argv[1]) : 30, fd;
	FILE *fp;

	if (rounds < 1) {
		fprintf(stderr, "usage: password_bench [ROUNDS]\n");
		return 2;
	}
	if (password_hash(PASSWORD_ARGON2ID, "correct horse", &argon,
	    &why) != 0 || password_hash(PASSWORD_BCRYPT, "correct horse",
	    &bcrypt, &why) != 0) {
		fprintf(stderr, "password_bench: %s\n", why);
		return 1;
	}
	printf("password_bench: %d rounds per path, %ld CPUs\n\n", rounds,
	    sysconf(_SC_NPROCESSORS_ONLN));
	compare("argon2id defaults (m=65536,t=3,p=1)", argon, NULL,
	    "unknown user (default dummy)", rounds);

	/* a user file of bcrypt hashes, loaded as the daemon would */
	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		perror("password_bench");
		return 1;
	}
	fprintf(fp, "alice:%s\nbob:%s\n", bcrypt, bcrypt);
	fclose(fp);
	memset(&cfg, 0, sizeof cfg);
	cfg.users.file = path;
	cfg.users.format = USERS_FORMAT_HTPASSWD;
	if (users_load_all(&cfg, &db, &errs) == -1) {
		fprintf(stderr, "password_bench: %s\n", errs.msg[0]);
		unlink(path);
		return 1;
	}
	unlink(path);
	compare("bcrypt cost 12 user file", users_find(db, "alice")->hash,
	    users_dummy_hash(db), "unknown user (users_dummy_hash)", rounds);
	compare("bcrypt cost 12 user file, argon2id dummy (the mismatch "
	    "users_dummy_hash avoids)", users_find(db, "alice")->hash, NULL,
	    "unknown user (default dummy)", rounds / 3 > 0 ? rounds / 3 : 1);
	users_free(db);
	free(argon);
	free(bcrypt);
	return 0;
}
