/*
 * harness.h - integration tests: start the real jwtgate binary on
 * 127.0.0.1 port 0 with a configuration of the test's own, read the real
 * port from its log, talk HTTP to it with libcurl, stop it by PID.
 */
#ifndef JWTGATE_TESTS_HARNESS_H
#define JWTGATE_TESTS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct jg {
	pid_t pid;
	int   port;
	char  addr[128]; /* as logged: 127.0.0.1:PORT, [::1]:PORT, unix:/path */
	char  dir[256];  /* temporary directory: config, secret, users, log */
	char  conf[300]; /* the config file */
	char  log[300];  /* the daemon's stderr */
};

struct reply {
	long   status;
	char  *body;
	size_t body_len;
	char  *headers;   /* all response headers, as received */
	long   new_conns; /* connections libcurl opened for this request */
};

/*
 * A fresh directory holding secret.key (48 bytes), users.ini (a copy of the
 * fixture) and jwtgate.ini with `ini` as its text; "listen" is added to
 * [server] unless `ini` sets it. Returns 0.
 */
int jg_prepare(struct jg *jg, const char *ini);
/* jg_prepare() then start `jwtgate serve`; 0 once it logs its port. */
int jg_start(struct jg *jg, const char *ini);
/* Start serve again on the same directory (after a stop or a kill). */
int jg_restart(struct jg *jg);
/* SIGTERM, wait up to 12 s (then SIGKILL); the exit status, or -1. */
int  jg_stop(struct jg *jg);
void jg_cleanup(struct jg *jg);

/* Run jwtgate with args; exit status, stdout and stderr (caller frees). */
int jg_run(const char *const *args, const char *input, char **out, char **err);

/*
 * One request on a shared curl handle (so keep-alive is observable).
 * headers: NULL-terminated "Name: value" strings, or NULL.
 */
int         jg_request(struct jg *jg, const char *method, const char *path,
            const char *const *headers, const char *body, struct reply *r);
void        jg_reset_connection(void);
const char *reply_header(const struct reply *r, const char *name);
void        reply_free(struct reply *r);

/*
 * For Check suites: start (failing the test if the daemon does not come
 * up), stop (failing it on a sanitizer report in the daemon's log), and a
 * main() body that runs one suite with libcurl set up.
 */
struct Suite;
void jg_check_start(struct jg *jg, const char *ini);
void jg_check_stop(struct jg *jg);
int  jg_run_suite(struct Suite *s);

/* Send raw bytes on a new TCP connection; read the answer (bounded). */
int jg_raw(struct jg *jg, const char *data, size_t len, int timeout_ms,
    char *out, size_t outlen);
/* Does the file contain the text? */
int jg_file_contains(const char *path, const char *text);
/* The whole file, NUL-terminated (caller frees), or NULL. */
char *jg_file_read(const char *path);
/* How many times does the file contain the text? */
int jg_file_count(const char *path, const char *text);

#endif
