/*
 * harness.c - start, talk to and stop the real jwtgate binary.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef JWTGATE_BIN
#define JWTGATE_BIN "./jwtgate"
#endif
#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

static CURL *shared_curl;

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	int     fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t  len = strlen(text);
	ssize_t n;

	if (fd == -1)
		return -1;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long  len;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)len + 1);
	if (buf != NULL && fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

int
jg_file_contains(const char *path, const char *text)
{
	char *buf = read_file(path);
	int   found = buf != NULL && strstr(buf, text) != NULL;

	free(buf);
	return found;
}

char *
jg_file_read(const char *path)
{
	return read_file(path);
}

int
jg_file_count(const char *path, const char *text)
{
	char       *buf = read_file(path);
	const char *p = buf;
	int         n = 0;

	while (p != NULL && (p = strstr(p, text)) != NULL) {
		n++;
		p += strlen(text);
	}
	free(buf);
	return n;
}

int
jg_prepare(struct jg *jg, const char *ini)
{
	char path[400], *users, *text;
	int  has_listen = strstr(ini, "listen") != NULL;

	memset(jg, 0, sizeof *jg);
	snprintf(jg->dir, sizeof jg->dir, "/tmp/jwtgate-test.XXXXXX");
	if (mkdtemp(jg->dir) == NULL)
		return -1;
	snprintf(jg->conf, sizeof jg->conf, "%s/jwtgate.ini", jg->dir);
	snprintf(jg->log, sizeof jg->log, "%s/stderr.log", jg->dir);
	snprintf(path, sizeof path, "%s/secret.key", jg->dir);
	if (write_file(path,
	        "0123456789abcdef0123456789abcdef0123456789abcdef\n",
	        0600) == -1)
		return -1;
	users = read_file(FIXTURES "/users.ini");
	if (users == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/users.ini", jg->dir);
	write_file(path, users, 0600);
	free(users);
	/* Port 0 on loopback unless the test chose its own listen address. */
	if (!has_listen && strstr(ini, "[server]") != NULL) {
		const char *after =
		    strstr(ini, "[server]") + strlen("[server]");
		size_t head = (size_t)(after - ini);

		text = malloc(strlen(ini) + 64);
		memcpy(text, ini, head);
		sprintf(text + head, "\nlisten = 127.0.0.1:0%s", after);
	} else if (!has_listen) {
		text = malloc(strlen(ini) + 64);
		sprintf(text, "[server]\nlisten = 127.0.0.1:0\n%s", ini);
	} else
		text = strdup(ini);
	write_file(jg->conf, text, 0644);
	free(text);
	return 0;
}

int
jg_start(struct jg *jg, const char *ini)
{
	if (jg_prepare(jg, ini) == -1)
		return -1;
	return jg_restart(jg);
}

int
jg_restart(struct jg *jg)
{
	char old[320];
	int  i;

	snprintf(old, sizeof old, "%s.old", jg->log);
	rename(jg->log, old); /* keep the earlier run's log next to it */
	jg->pid = fork();
	if (jg->pid == -1)
		return -1;
	if (jg->pid == 0) {
		int fd = open(jg->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, STDERR_FILENO);
		execl(JWTGATE_BIN, "jwtgate", "serve", "-c", jg->conf,
		    (char *)NULL);
		_exit(127);
	}
	/* Up to 10 s for the "listening on" line. */
	for (i = 0; i < 1000; i++) {
		char *log = read_file(jg->log);
		char *at = log != NULL ? strstr(log, "listening on ") : NULL;
		int   status;

		if (at != NULL && strchr(at, '\n') != NULL) {
			char *colon;

			at += strlen("listening on ");
			at[strcspn(at, "\"\n")] = '\0';
			snprintf(jg->addr, sizeof jg->addr, "%s", at);
			colon = strrchr(jg->addr, ':');
			jg->port = strncmp(jg->addr, "unix:", 5) == 0
			    ? 0
			    : atoi(colon + 1);
			free(log);
			return 0;
		}
		free(log);
		if (waitpid(jg->pid, &status, WNOHANG) == jg->pid) {
			jg->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
}

int
jg_stop(struct jg *jg)
{
	int status, i;

	if (jg->pid <= 0)
		return -1;
	kill(jg->pid, SIGTERM);
	for (i = 0; i < 1200; i++) {
		if (waitpid(jg->pid, &status, WNOHANG) == jg->pid) {
			jg->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	kill(jg->pid, SIGKILL);
	waitpid(jg->pid, &status, 0);
	jg->pid = 0;
	return -1;
}

void
jg_cleanup(struct jg *jg)
{
	char cmd[400];

	if (jg->pid > 0)
		jg_stop(jg);
	if (jg->dir[0] != '\0' && getenv("JG_KEEP") == NULL) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", jg->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", jg->dir);
	}
}

/* Read all of fd into a string, bounded by 10 s. */
static char *
slurp(int fd)
{
	size_t cap = 4096, len = 0;
	char  *buf = malloc(cap);
	int    rounds = 0;

	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t       n;

		if (poll(&pfd, 1, 100) == 0) {
			if (++rounds > 100)
				break;
			continue;
		}
		if (len + 1024 > cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

int
jg_run(const char *const *args, const char *input, char **out, char **err)
{
	int         pin[2], pout[2], perr[2], status, n = 0;
	pid_t       pid;
	const char *argv[32];

	argv[n++] = "jwtgate";
	while (args[n - 1] != NULL && n < 31) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if (pipe(pin) == -1 || pipe(pout) == -1 || pipe(perr) == -1)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pin[0], STDIN_FILENO);
		dup2(pout[1], STDOUT_FILENO);
		dup2(perr[1], STDERR_FILENO);
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		execv(JWTGATE_BIN, (char *const *)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (input != NULL && write(pin[1], input, strlen(input)) < 0)
		perror("write");
	close(pin[1]);
	*out = slurp(pout[0]);
	*err = slurp(perr[0]);
	close(pout[0]);
	close(perr[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct buf {
	char  *p;
	size_t len;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *cls)
{
	struct buf *b = cls;
	size_t      n = size * nmemb;

	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

void
jg_reset_connection(void)
{
	if (shared_curl != NULL)
		curl_easy_cleanup(shared_curl);
	shared_curl = NULL;
}

int
jg_request(struct jg *jg, const char *method, const char *path,
    const char *const *headers, const char *body, struct reply *r)
{
	struct curl_slist *hl = NULL;
	struct buf         b = {NULL, 0}, h = {NULL, 0};
	char               url[2048];
	CURLcode           rc;

	memset(r, 0, sizeof *r);
	if (shared_curl == NULL)
		shared_curl = curl_easy_init();
	else
		curl_easy_reset(shared_curl);
	if (strncmp(jg->addr, "unix:", 5) == 0) {
		snprintf(url, sizeof url, "http://localhost%s", path);
		curl_easy_setopt(shared_curl, CURLOPT_UNIX_SOCKET_PATH,
		    jg->addr + 5);
	} else
		snprintf(url, sizeof url, "http://%s%s", jg->addr, path);
	curl_easy_setopt(shared_curl, CURLOPT_URL, url);
	curl_easy_setopt(shared_curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(shared_curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(shared_curl, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(shared_curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(shared_curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(shared_curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(shared_curl, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(shared_curl, CURLOPT_HEADERDATA, &h);
	hl = curl_slist_append(hl, "Expect:");
	for (; headers != NULL && *headers != NULL; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(shared_curl, CURLOPT_HTTPHEADER, hl);
	if (body != NULL) {
		curl_easy_setopt(shared_curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(shared_curl, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
	}
	rc = curl_easy_perform(shared_curl);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK) {
		free(b.p);
		free(h.p);
		return -1;
	}
	curl_easy_getinfo(shared_curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(shared_curl, CURLINFO_NUM_CONNECTS, &r->new_conns);
	r->body = b.p != NULL ? b.p : strdup("");
	r->body_len = b.len;
	r->headers = h.p != NULL ? h.p : strdup("");
	return 0;
}

/* The value of the first header called name (static buffer). */
const char *
reply_header(const struct reply *r, const char *name)
{
	static __thread char value[4096];
	const char          *line = r->headers;
	size_t               nlen = strlen(name);

	while (line != NULL && *line != '\0') {
		const char *eol = strstr(line, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);

		if (len > nlen && strncasecmp(line, name, nlen) == 0 &&
		    line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ')
				v++;
			len -= (size_t)(v - line);
			if (len >= sizeof value)
				len = sizeof value - 1;
			memcpy(value, v, len);
			value[len] = '\0';
			return value;
		}
		line = eol != NULL ? eol + 2 : NULL;
	}
	return NULL;
}

void
reply_free(struct reply *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof *r);
}

int
jg_raw(struct jg *jg, const char *data, size_t len, int timeout_ms, char *out,
    size_t outlen)
{
	struct sockaddr_in sin;
	size_t             got = 0;
	int                fd, waited = 0;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)jg->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (len > 0 && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	out[0] = '\0';
	while (waited < timeout_ms && got + 1 < outlen) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t       n;

		if (poll(&pfd, 1, 50) == 0) {
			waited += 50;
			continue;
		}
		n = read(fd, out + got, outlen - got - 1);
		if (n <= 0)
			break; /* closed by the server */
		got += (size_t)n;
		out[got] = '\0';
	}
	close(fd);
	return waited < timeout_ms ? 0 : 1; /* 1: still open at the deadline */
}

void
jg_check_start(struct jg *jg, const char *ini)
{
	jg_reset_connection();
	ck_assert_msg(jg_start(jg, ini) == 0,
	    "jwtgate did not start (log in %s)", jg->log);
}

void
jg_check_stop(struct jg *jg)
{
	jg_reset_connection();
	if (jg->pid > 0)
		jg_stop(jg);
	ck_assert_msg(!jg_file_contains(jg->log, "Sanitizer") &&
	        !jg_file_contains(jg->log, "runtime error:"),
	    "sanitizer report in %s", jg->log);
	jg_cleanup(jg);
}

int
jg_run_suite(Suite *s)
{
	SRunner *sr;
	int      failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	jg_reset_connection();
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
