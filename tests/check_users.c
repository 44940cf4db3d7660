/*
 * check_users.c - the user file: both formats, every malformed line kind
 * with its exact message, lookups, reload failure, reference counting.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "password.h"
#include "users.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif
#define DIR FIXTURES "/users/"

#define PW  "correct horse battery staple"
#define PW2 "pässwörd ✓"

static struct config cfg;
static char         *scopes[] = {"read", "write", "admin"};
static char          tmppath[64];

static void
setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.oauth2.scopes.v = scopes;
	cfg.oauth2.scopes.n = 3;
	cfg.users.format = USERS_FORMAT_INI;
	tmppath[0] = '\0';
}

static void
teardown(void)
{
	if (tmppath[0] != '\0')
		unlink(tmppath);
}

static struct userdb *
load_ok(const char *file, enum users_format format)
{
	struct config_errors errs;
	struct userdb       *db = NULL;
	size_t               i;

	cfg.users.file = (char *)file;
	cfg.users.format = format;
	if (users_load_all(&cfg, &db, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		ck_abort_msg("%s did not load", file);
	}
	ck_assert_ptr_nonnull(db);
	return db;
}

/* Write text to a temporary file and point cfg at it. */
static void
write_tmp(const char *text, size_t len, enum users_format format)
{
	FILE *fp;
	int   fd;

	snprintf(tmppath, sizeof tmppath, "/tmp/check_users.XXXXXX");
	fd = mkstemp(tmppath);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	fclose(fp);
	cfg.users.file = tmppath;
	cfg.users.format = format;
}

static void
expect_errors(const char *file, enum users_format format,
    const char *const *want, size_t nwant)
{
	struct config_errors errs;
	struct userdb       *db = NULL;
	char                 full[600];
	size_t               i;

	cfg.users.file = (char *)file;
	cfg.users.format = format;
	ck_assert_int_eq(users_load_all(&cfg, &db, &errs), -1);
	ck_assert_ptr_null(db);
	for (i = 0; i < errs.n && i < nwant; i++) {
		snprintf(full, sizeof full, "%s:%s", file, want[i]);
		ck_assert_str_eq(errs.msg[i], full);
		ck_assert_ptr_null(strstr(errs.msg[i], "hunter2"));
	}
	ck_assert_uint_eq(errs.n, nwant);
	ck_assert_uint_eq(errs.dropped, 0);
}

START_TEST(test_good_ini)
{
	struct userdb     *db = load_ok(DIR "good.ini", USERS_FORMAT_INI);
	const struct user *u;
	char               name64[65];

	ck_assert_uint_eq(users_count(db), 6);
	u = users_find(db, "alice");
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->name, "alice");
	ck_assert_str_eq(u->display_name, "Alice Liddell");
	ck_assert_str_eq(u->email, "alice@example.com");
	ck_assert_uint_eq(u->roles.n, 2);
	ck_assert_str_eq(u->roles.v[0], "admin");
	ck_assert_str_eq(u->roles.v[1], "dev");
	ck_assert_uint_eq(u->scopes.n, 2);
	ck_assert(!u->disabled);
	ck_assert_int_eq(password_verify(u->hash, PW), 1);

	/* indented section and keys, empty lists */
	u = users_find(db, "bob");
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(u->roles.n, 0);
	ck_assert_uint_eq(u->scopes.n, 1);
	ck_assert_ptr_null(u->display_name);
	ck_assert_ptr_null(u->email);
	ck_assert_int_eq(password_verify(u->hash, PW), 1);

	/* names are case-sensitive; ':' separates keys too */
	u = users_find(db, "Alice");
	ck_assert_ptr_nonnull(u);
	ck_assert(u->disabled);
	ck_assert_str_eq(u->hash, users_find(db, "Alice")->hash);
	ck_assert_int_eq(password_verify(u->hash, PW), 1);
	ck_assert_ptr_null(users_find(db, "ALICE"));
	ck_assert_ptr_null(users_find(db, "alice "));
	ck_assert_ptr_null(users_find(db, ""));
	ck_assert_ptr_null(users_find(db, NULL));

	memset(name64, 'u', 64);
	name64[64] = '\0';
	u = users_find(db, name64);
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->display_name, "pässwörd ✓ user");
	ck_assert_int_eq(password_verify(u->hash, PW2), 1);
	u = users_find(db, "José Ñandú");
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(password_verify(u->hash, PW), 1);
	u = users_find(db, "svc.deploy@example");
	ck_assert_ptr_nonnull(u);
	ck_assert(!u->disabled);
	users_free(db);
}
END_TEST

START_TEST(test_good_htpasswd)
{
	struct userdb *db = load_ok(DIR "good.htpasswd", USERS_FORMAT_HTPASSWD);
	static const char *const names[] = {"alice", "bob", "carol", "dave"};
	const struct user       *u;
	size_t                   i;

	ck_assert_uint_eq(users_count(db), 4);
	for (i = 0; i < 4; i++) {
		u = users_find(db, names[i]);
		ck_assert_ptr_nonnull(u);
		ck_assert_int_eq(password_verify(u->hash, PW), 1);
		ck_assert_int_eq(password_verify(u->hash, PW "!"), 0);
		ck_assert_uint_eq(u->roles.n, 0);
	}
	users_free(db);
}
END_TEST

START_TEST(test_bad_syntax)
{
	static const char *const want[] = {
	    "2: password: outside a user section",
	    "5: expected 'key = value'",
	    "6: section header without ']'",
	    "7: [alice]: duplicate user (first at line 3)",
	    "9: unexpected text after ']'",
	    "10: user name contains ':'",
	    "11: user name longer than 64 bytes",
	    "12: empty user name",
	    "13: user name has leading or trailing spaces",
	    "16: [grace]: missing key name",
	    "17: expected 'key = value'",
	    "18: line too long (at most 199 bytes)",
	    "19: [carol]: missing password",
	};

	expect_errors(DIR "bad-syntax.ini", USERS_FORMAT_INI, want,
	    sizeof want / sizeof want[0]);
}
END_TEST

START_TEST(test_bad_keys)
{
	static const char *const want[] = {
	    "4: [alice] password: duplicate key (first at line 3)",
	    "5: [alice] colour: unknown key",
	    "6: [alice] disabled: expected a boolean "
	    "(true/false/yes/no/on/off/1/0)",
	    "7: [alice] scopes: unknown scope 'delete' "
	    "(not in [oauth2] scopes)",
	    "8: [alice] roles: invalid list (empty item)",
	    "9: [alice] name: empty value",
	    "10: [alice] email: contains control characters",
	    "12: [bob] password: {SHA} hashes are not accepted",
	    "14: [grace] password: MD5-crypt hashes are not accepted",
	    "15: [grace] password: duplicate key (first at line 14)",
	    "17: [heidi] password: malformed bcrypt hash",
	    "19: [ivan] password: not a password hash "
	    "(plain-text passwords are not accepted)",
	    "21: [judy] password: hash parameters rejected by libcrypt",
	};

	expect_errors(DIR "bad-keys.ini", USERS_FORMAT_INI, want,
	    sizeof want / sizeof want[0]);
}
END_TEST

START_TEST(test_bad_htpasswd)
{
	static const char *const want[] = {
	    "3: expected 'user:hash'",
	    "4: alice: duplicate user (first at line 2)",
	    "5: carol: not a password hash "
	    "(plain-text passwords are not accepted)",
	    "6: empty user name",
	    "7: dave: malformed bcrypt hash",
	    "8: erin: Apache MD5 (apr1) hashes are not accepted",
	    "9: frank: {SHA} hashes are not accepted",
	};

	expect_errors(DIR "bad.htpasswd", USERS_FORMAT_HTPASSWD, want,
	    sizeof want / sizeof want[0]);
}
END_TEST

START_TEST(test_nul_and_control)
{
	static const char ini[] = "[alice]\npassword = x\0y\n";
	static const char ht[] = "al\x01ice:$2y$04$CUax7qBp77jrGmNqHYe97ORMpBa"
	                         "uKnBW9h8JnSwbA/2Tm6/5Fh2nm\n";
	struct config_errors errs;
	struct userdb       *db = NULL;
	char                 want[128];

	write_tmp(ini, sizeof ini - 1, USERS_FORMAT_INI);
	ck_assert_int_eq(users_load_all(&cfg, &db, &errs), -1);
	ck_assert_uint_eq(errs.n, 2);
	snprintf(want, sizeof want, "%s:2: line contains a NUL byte", tmppath);
	ck_assert_str_eq(errs.msg[0], want);
	snprintf(want, sizeof want, "%s:1: [alice]: missing password", tmppath);
	ck_assert_str_eq(errs.msg[1], want);
	unlink(tmppath);

	write_tmp(ht, sizeof ht - 1, USERS_FORMAT_HTPASSWD);
	ck_assert_int_eq(users_load_all(&cfg, &db, &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	snprintf(want, sizeof want,
	    "%s:1: user name contains control characters", tmppath);
	ck_assert_str_eq(errs.msg[0], want);
	ck_assert_ptr_null(db);
}
END_TEST

START_TEST(test_missing_file)
{
	struct userdb       *db = NULL;
	struct config_errors errs;

	cfg.users.file = DIR "no-such-file.ini";
	ck_assert_int_eq(users_load_all(&cfg, &db, &errs), -1);
	ck_assert_str_eq(errs.msg[0],
	    DIR "no-such-file.ini: cannot open: "
	        "No such file or directory");
	ck_assert_ptr_null(db);
}
END_TEST

/* More than CONFIG_ERR_MAX problems: the rest are counted, not lost. */
START_TEST(test_many_errors)
{
	struct config_errors errs;
	struct userdb       *db = NULL;
	char                 text[2048];
	size_t               len = 0;
	int                  i;

	for (i = 0; i < 20; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
		    "[u%d]\n", i);
	write_tmp(text, len, USERS_FORMAT_INI);
	ck_assert_int_eq(users_load_all(&cfg, &db, &errs), -1);
	ck_assert_uint_eq(errs.n, CONFIG_ERR_MAX);
	ck_assert_uint_eq(errs.dropped, 20 - CONFIG_ERR_MAX);
}
END_TEST

/* A reload that fails leaves the caller's pointer, and the old set, alone. */
START_TEST(test_reload_keeps_old)
{
	struct userdb       *db = load_ok(DIR "good.ini", USERS_FORMAT_INI);
	struct userdb       *old = db;
	struct config_errors errs;

	cfg.users.file = DIR "bad-keys.ini";
	ck_assert_int_eq(users_load_all(&cfg, &db, &errs), -1);
	ck_assert_ptr_eq(db, old);
	ck_assert_ptr_nonnull(users_find(db, "alice"));
	ck_assert_int_eq(password_verify(users_find(db, "alice")->hash, PW), 1);
	users_free(db);
}
END_TEST

START_TEST(test_refcount)
{
	struct userdb *db = load_ok(DIR "good.htpasswd", USERS_FORMAT_HTPASSWD);
	struct userdb *held = users_ref(db);
	const struct user *u = users_find(held, "alice");

	ck_assert_ptr_eq(held, db);
	users_unref(db);                    /* the reloader lets go */
	ck_assert_str_eq(u->name, "alice"); /* the request still may read */
	users_unref(held);
	users_unref(NULL);
	ck_assert_ptr_null(users_ref(NULL));
}
END_TEST

/* The dummy takes the parameters most users have. */
START_TEST(test_dummy_majority)
{
	FILE          *fp = fopen(FIXTURES "/users/hashes.txt", "r");
	char           line[512], *bcrypt = NULL, *argon = NULL, text[2048];
	struct userdb *db;
	const char    *dummy;
	int            len;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof line, fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "bcrypt-2b\t", 10) == 0)
			bcrypt = strdup(strrchr(line, '\t') + 1);
		if (strncmp(line, "argon2id\t", 9) == 0)
			argon = strdup(strrchr(line, '\t') + 1);
	}
	fclose(fp);
	ck_assert_ptr_nonnull(bcrypt);
	ck_assert_ptr_nonnull(argon);
	len = snprintf(text, sizeof text, "a:%s\nb:%s\nc:%s\n", argon, bcrypt,
	    bcrypt);
	write_tmp(text, (size_t)len, USERS_FORMAT_HTPASSWD);
	db = load_ok(tmppath, USERS_FORMAT_HTPASSWD);
	dummy = users_dummy_hash(db);
	ck_assert_ptr_nonnull(dummy);
	ck_assert(strncmp(dummy, "$2b$05$", 7) == 0);
	ck_assert_str_ne(dummy, bcrypt);
	ck_assert_int_eq(password_verify(dummy, PW), 0);
	users_free(db);

	write_tmp("# nobody\n", 9, USERS_FORMAT_HTPASSWD);
	db = load_ok(tmppath, USERS_FORMAT_HTPASSWD);
	ck_assert_uint_eq(users_count(db), 0);
	ck_assert_ptr_null(users_dummy_hash(db));
	ck_assert_ptr_null(users_find(db, "a"));
	users_free(db);
	free(bcrypt);
	free(argon);
}
END_TEST

/* Many users: every one is found through the table. */
START_TEST(test_many_users)
{
	const char *hash = "$2y$04$CUax7qBp77jrGmNqHYe97ORMpBauKnBW9h8JnSwbA/"
	                   "2Tm6/5Fh2nm";
	enum { N = 20000 };
	struct userdb *db;
	char           name[32], *text;
	size_t         len = 0, cap = (size_t)N * 96;
	int            i;

	text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "user%d:%s\n", i,
		    hash);
	write_tmp(text, len, USERS_FORMAT_HTPASSWD);
	free(text);
	db = load_ok(tmppath, USERS_FORMAT_HTPASSWD);
	ck_assert_uint_eq(users_count(db), N);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof name, "user%d", i);
		ck_assert_ptr_nonnull(users_find(db, name));
		ck_assert_str_eq(users_find(db, name)->name, name);
	}
	ck_assert_ptr_null(users_find(db, "user20000"));
	users_free(db);
}
END_TEST

static Suite *
users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_good_ini);
	tcase_add_test(tc, test_good_htpasswd);
	tcase_add_test(tc, test_bad_syntax);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_bad_htpasswd);
	tcase_add_test(tc, test_nul_and_control);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_reload_keeps_old);
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_dummy_majority);
	tcase_add_test(tc, test_many_users);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(users_suite());
	int      failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
