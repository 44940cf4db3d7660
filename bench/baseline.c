/*
 * baseline.c - the ceiling bench/run measures jwtgate against: a
 * libmicrohttpd server with jwtgate's daemon flags, thread pool, limits and
 * request pattern (MHD_YES on the first call, queue on the next), answering
 * GET /verify 200 with a small JSON body and no authentication at all.
 * bench/run sends it jwtgate's request, token header included, which it
 * receives and ignores.
 *
 *     baseline [-l HOST:PORT] [-t THREADS] [-m MAX_CONNECTIONS] [-T TIMEOUT_S]
 *              [-M CONNECTION_MEMORY_BYTES]
 *
 * The defaults are jwtgate's: threads = CPUs, 1024 connections, 30 s, and
 * 32 KiB per connection (server_memory_limit() with max_token_bytes 8192).
 * jwtgate's own additions around libmicrohttpd (request watchdog, path
 * unescape callback, access log, metrics) are its cost, not the ceiling's.
 *
 * Port 0 binds an ephemeral port; the line "listening on HOST:PORT" on
 * stderr gives the real one. SIGINT or SIGTERM stops it (exit 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What jwtgate's /verify answers on success, less the identity headers. */
static const char ok_body[] = "{\"detail\":\"OK\"}";
static const char nf_body[] = "{\"status_code\":404,\"detail\":\"Not Found\"}";

static volatile sig_atomic_t stop;

/* Per-request state, like jwtgate's struct request (allocated, then freed). */
struct request {
	int verify; /* GET /verify */
	int queued;
};

static void
baseline_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static enum MHD_Result
baseline_queue(struct MHD_Connection *conn, struct request *req)
{
	struct MHD_Response *mr;
	enum MHD_Result      rc;
	unsigned             status;
	const char          *body;
	size_t               len;
	char                *copy;

	status = req->verify ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND;
	body = status == MHD_HTTP_OK ? ok_body : nf_body;
	len = strlen(body);
	/* jwtgate builds each body in a malloc'd buffer; so does the ceiling. */
	copy = malloc(len);
	if (copy == NULL)
		return MHD_NO;
	memcpy(copy, body, len);
	mr = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
	if (mr == NULL) {
		free(copy);
		return MHD_NO;
	}
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	rc = MHD_queue_response(conn, status, mr);
	MHD_destroy_response(mr);
	req->queued = 1;
	return rc;
}

static enum MHD_Result
baseline_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (req == NULL) {
		/* Queueing on the first call closes keep-alive in 0.9.75. */
		req = calloc(1, sizeof *req);
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (req->queued) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0; /* bodies are ignored */
		return MHD_YES;
	}
	req->verify = strcmp(url, "/verify") == 0 &&
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	return baseline_queue(conn, req);
}

static void
baseline_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int
baseline_listen(const char *spec, char *host, size_t hostlen)
{
	struct sockaddr_in sin;
	socklen_t          len = sizeof sin;
	const char        *colon = strrchr(spec, ':');
	int                fd, one = 1;

	if (colon == NULL || (size_t)(colon - spec) >= hostlen) {
		fprintf(stderr, "baseline: -l wants HOST:PORT\n");
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "baseline: %s: not an IPv4 address\n", host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* The same backlog as jwtgate's server_bind_inet(). */
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(fd, 512) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		fprintf(stderr, "baseline: cannot listen on %s: %s\n", spec,
		    strerror(errno));
		close(fd);
		return -1;
	}
	fprintf(stderr, "baseline: listening on %s:%u\n", host,
	    ntohs(sin.sin_port));
	return fd;
}

int
main(int argc, char **argv)
{
	const char        *spec = "127.0.0.1:0";
	unsigned           threads = 0, max_conn = 1024, timeout = 30;
	size_t             memory = 32768;
	struct MHD_Daemon *d;
	struct sigaction   sa;
	char               host[64];
	unsigned           flags;
	int                c, fd;

	while ((c = getopt(argc, argv, "l:t:m:T:M:")) != -1) {
		switch (c) {
		case 'l': spec = optarg; break;
		case 't': threads = (unsigned)atoi(optarg); break;
		case 'm': max_conn = (unsigned)atoi(optarg); break;
		case 'T': timeout = (unsigned)atoi(optarg); break;
		case 'M': memory = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: baseline [-l HOST:PORT] [-t THREADS] "
			    "[-m MAX_CONNECTIONS] [-T TIMEOUT_S] "
			    "[-M CONNECTION_MEMORY_BYTES]\n");
			return 2;
		}
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	fd = baseline_listen(spec, host, sizeof host);
	if (fd == -1)
		return 1;
	/* jwtgate's server_start(), flag for flag. */
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
	    MHD_ALLOW_SUSPEND_RESUME;
	d = MHD_start_daemon(flags, 0, NULL, NULL, baseline_access, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
	    MHD_OPTION_CONNECTION_LIMIT, max_conn,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_NOTIFY_COMPLETED, baseline_completed, NULL,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "baseline: cannot start the HTTP server\n");
		close(fd);
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = baseline_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	close(fd);
	return 0;
}
