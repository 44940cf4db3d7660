/*
 * server.c - libmicrohttpd daemon and request lifecycle.
 *
 * A request is answered in three steps: the first call of the access
 * handler creates struct request and returns (queueing a response on the
 * first call makes libmicrohttpd 0.9.75 close keep-alive connections); the
 * calls with upload data fill the capped body; the last call routes the
 * request and queues the answer. The completion callback writes the access
 * log and frees the request.
 *
 * libmicrohttpd's connection timeout is an idle timer that every byte
 * resets, so a client dripping one header byte at a time would hold its
 * connection for ever. A watchdog thread therefore gives each request
 * connection_timeout to arrive whole (headers and body) and shuts down the
 * sockets of those that do not.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "context.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "xmalloc.h"

/* One connection, as the watchdog (and its requests) see it. */
struct watch {
	struct watch *prev, *next;
	int           fd;
	uint64_t
	    since_us; /* atomic; start of the request being received, 0: none */
	/* The peer, found when it connects; its trust, once per context. */
	char     peer[64];
	bool     trusted;
	uint64_t trusted_gen; /* generation of the context that judged it */
};

struct server {
	struct MHD_Daemon *daemon;
	pthread_t          watchdog;
	pthread_mutex_t    wlock; /* guards watches, stopping */
	pthread_cond_t     wcond;
	struct watch      *watches;
	bool               stopping;
	uint64_t           deadline_us;
	int                fd;
	bool               unix_path; /* we created a socket file */
	char               path[108];
	pthread_mutex_t    lock; /* guards ctx */
	struct context    *ctx;
	unsigned           inflight; /* atomic */
};

static struct context *
server_context(struct server *srv)
{
	struct context *ctx;

	pthread_mutex_lock(&srv->lock);
	ctx = context_ref(srv->ctx);
	pthread_mutex_unlock(&srv->lock);
	return ctx;
}

void
server_set_context(struct server *srv, struct context *ctx)
{
	struct context *old;

	pthread_mutex_lock(&srv->lock);
	old = srv->ctx;
	srv->ctx = ctx;
	pthread_mutex_unlock(&srv->lock);
	context_unref(old);
}

/* The peer's address as text; "unix" for a unix socket. */
static void
server_peer_name(struct MHD_Connection *conn, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr          *sa;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci != NULL ? ci->client_addr : NULL;
	if (sa == NULL || sa->sa_family == AF_UNIX)
		snprintf(out, outlen, "unix");
	else if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)outlen);
	else
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)outlen);
}

/*
 * req->peer and req->peer_trusted. Only local processes reach a unix
 * socket: file modes decide, so it is trusted.
 */
static void
server_peer(struct request *req, struct watch *w)
{
	struct watch none = {0}; /* generations start at 1: judged below */

	if (w == NULL) {
		server_peer_name(req->conn, none.peer, sizeof none.peer);
		w = &none;
	}
	memcpy(req->peer, w->peer, sizeof req->peer);
	if (w->trusted_gen != req->ctx->generation) {
		w->trusted = strcmp(w->peer, "unix") == 0 ||
		    http_trusted(req->ctx->cfg, w->peer);
		w->trusted_gen = req->ctx->generation;
	}
	req->peer_trusted = w->trusted;
}

static struct watch *
server_watch_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* 0: the request has arrived whole; else the time its reception began. */
static void
server_watch_mark(struct MHD_Connection *conn, uint64_t since_us)
{
	struct watch *w = server_watch_of(conn);

	if (w != NULL)
		__atomic_store_n(&w->since_us, since_us, __ATOMIC_RELAXED);
}

static void
server_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct server                  *srv = cls;
	struct watch                   *w = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		w = xcalloc(1, sizeof *w);
		w->fd = ci != NULL ? ci->connect_fd : -1;
		w->since_us = clock_mono_us();
		server_peer_name(conn, w->peer, sizeof w->peer);
		pthread_mutex_lock(&srv->wlock);
		w->next = srv->watches;
		if (srv->watches != NULL)
			srv->watches->prev = w;
		srv->watches = w;
		pthread_mutex_unlock(&srv->wlock);
		*socket_context = w;
		return;
	}
	if (w == NULL)
		return;
	/* Before libmicrohttpd closes the socket: the fd is still ours. */
	pthread_mutex_lock(&srv->wlock);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		srv->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	pthread_mutex_unlock(&srv->wlock);
	free(w);
	*socket_context = NULL;
}

/* A condition variable whose timed waits follow the monotonic clock. */
static void
server_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

static void *
server_watchdog(void *arg)
{
	struct server  *srv = arg;
	struct timespec ts;

	pthread_mutex_lock(&srv->wlock);
	while (!srv->stopping) {
		uint64_t      now = clock_mono_us();
		struct watch *w;

		for (w = srv->watches; w != NULL; w = w->next) {
			uint64_t since =
			    __atomic_load_n(&w->since_us, __ATOMIC_RELAXED);

			/* A worker may have set since after now was read. */
			if (since != 0 && now > since &&
			    now - since > srv->deadline_us && w->fd != -1) {
				log_debug(
				    "closing a connection whose request took over %us",
				    (unsigned)(srv->deadline_us / 1000000));
				shutdown(w->fd, SHUT_RDWR);
				__atomic_store_n(&w->since_us, 0,
				    __ATOMIC_RELAXED);
			}
		}
		/*
		 * Held access-log lines: out within 0.25 s. Written without
		 * the lock: a slow stderr must not hold up new connections.
		 */
		pthread_mutex_unlock(&srv->wlock);
		log_flush();
		pthread_mutex_lock(&srv->wlock);
		if (srv->stopping)
			break; /* its signal may have come while unlocked */
		/* Monotonic (see server_start): a clock step cannot stall it. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&srv->wcond, &srv->wlock, &ts);
	}
	pthread_mutex_unlock(&srv->wlock);
	return NULL;
}

/*
 * The path is given to handlers as sent: libmicrohttpd's own decoding would
 * turn "%00" into an end of string and "%2F" into a separator before any
 * rule sees them. /verify decodes once, in rules_normalize().
 */
static size_t
server_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

static struct request *
server_request_new(struct server *srv, struct MHD_Connection *conn,
    const char *url, const char *method)
{
	struct request *req = xcalloc(1, sizeof *req);

	__atomic_add_fetch(&srv->inflight, 1, __ATOMIC_RELAXED);
	req->start_us = clock_mono_us();
	req->conn = conn;
	req->ctx = server_context(srv);
	req->method = method;
	req->path = url;
	req->route = router_find(url);
	server_peer(req, server_watch_of(conn));
	http_client_address(req);
	return req;
}

static enum MHD_Result
server_queue(struct request *req)
{
	struct MHD_Response *mr;
	enum MHD_Result      rc;
	bool                 owned;

	mr = http_response_mhd(&req->res, &owned);
	if (mr == NULL)
		return MHD_NO;
	rc = MHD_queue_response(req->conn, req->res.status, mr);
	if (owned)
		MHD_destroy_response(mr);
	req->queued = true;
	return rc;
}

/* A declared body over the cap is refused before any of it is read. */
static bool
server_body_too_large(struct request *req)
{
	const char *cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char       *end;
	unsigned long long n;

	if (cl == NULL)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno != 0 || *end != '\0' ||
	    n > req->ctx->cfg->server.max_body_bytes;
}

static enum MHD_Result
server_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server  *srv = cls;
	struct request *req = *con_cls;

	(void)version;
	if (req == NULL) {
		*con_cls = req = server_request_new(srv, conn, url, method);
		if (server_body_too_large(req)) {
			/* The connection closes: the body is never read. */
			http_reply_error(&req->res, 413,
			    "Request Entity Too Large");
			http_set_header(&req->res, "Connection", "close");
			return server_queue(req);
		}
		return MHD_YES;
	}
	if (req->queued) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		http_body_append(req, upload_data, *upload_data_size,
		    req->ctx->cfg->server.max_body_bytes);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!req->dispatched) {
		req->dispatched = true;
		server_watch_mark(conn, 0); /* arrived whole in time */
		router_dispatch(req);
		if (req->async)
			return MHD_YES; /* queued when resumed */
	}
	return server_queue(req);
}

static void
server_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server  *srv = cls;
	struct request *req = *con_cls;

	unsigned status;
	uint64_t now = clock_mono_us();

	if (req == NULL)
		return;
	*con_cls = NULL;
	/* The next request on this connection starts its clock now. */
	server_watch_mark(conn, now);
	/* 0 in logs and metrics: the answer never went out whole. */
	status = req->queued && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
	    ? req->res.status
	    : 0;
	metrics_request(router_index(req->route), status, now - req->start_us);
	if (req->ctx->cfg->server.access_log)
		log_access(req->method, req->path, status, now - req->start_us,
		    req->client, req->user);
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_debug("request %s %s ended early (%d)", req->method,
		    req->path, (int)toe);
	http_response_free(&req->res);
	json_decref(req->claims);
	context_unref(req->ctx);
	free(req->body);
	free(req->user);
	free(req);
	__atomic_sub_fetch(&srv->inflight, 1, __ATOMIC_RELEASE);
}

static void
server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char   msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("libmicrohttpd: %s", msg);
}

static int
server_bind_unix(struct server *srv, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat        st;
	int                fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	/*
	 * A socket file left by an earlier run is replaced; a live one (some
	 * process accepts on it) or any other file is an error.
	 */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
			    path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd != -1 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
			close(fd);
			snprintf(err, errlen,
			    "cannot listen on unix:%s: another "
			    "process is listening there",
			    path);
			return -1;
		}
		if (fd != -1)
			close(fd);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(fd, 512) == -1) {
		snprintf(err, errlen, "cannot listen on unix:%s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* The owner and its group (a reverse proxy's) may connect. */
	if (chmod(path, 0660) == -1)
		log_warn("chmod %s: %s", path, strerror(errno));
	srv->unix_path = true;
	snprintf(srv->path, sizeof srv->path, "%s", path);
	return fd;
}

static int
server_bind_inet(const struct listen_addr *la, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t               len;
	int                     fd, one = 1;

	memset(&ss, 0, sizeof ss);
	if (la->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(la->port);
		inet_pton(AF_INET6, la->host, &in6->sin6_addr);
		len = sizeof *in6;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(la->port);
		inet_pton(AF_INET, la->host, &in->sin_addr);
		len = sizeof *in;
	}
	fd = socket(la->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (la->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 512) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s",
	    la->family == AF_INET6 ? "[" : "", la->host,
	    la->family == AF_INET6 ? "]" : "", la->port, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* Log the address really bound, with the port the kernel chose. */
static void
server_log_address(int fd)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof ss;
	char                    host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_UNIX) {
		log_notice("listening on unix:%s",
		    ((struct sockaddr_un *)&ss)->sun_path);
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		log_notice("listening on %s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		log_notice("listening on [%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static int
server_listen(struct server *srv, const struct config *cfg, char *err,
    size_t errlen)
{
	int n = sd_listen_fds(1);

	if (n > 1) {
		snprintf(err, errlen, "systemd passed %d sockets; expected one",
		    n);
		return -1;
	}
	if (n == 1) {
		log_info("using the socket passed by systemd");
		return SD_LISTEN_FDS_START;
	}
	if (cfg->server.listen.family == AF_UNIX)
		return server_bind_unix(srv, cfg->server.listen.path, err,
		    errlen);
	return server_bind_inet(&cfg->server.listen, err, errlen);
}

/*
 * Per-connection memory holds the request headers: room for a token of
 * max_token_bytes in both Authorization and Cookie, and the rest.
 */
static size_t
server_memory_limit(const struct config *cfg)
{
	size_t want = 2 * cfg->token.max_token_bytes + 16384;

	return want > 32768 ? want : 32768;
}

int
server_start(struct context *ctx, struct server **out, char *err, size_t errlen)
{
	const struct config *cfg = ctx->cfg;
	struct server       *srv;
	unsigned             threads = cfg->server.threads;
	unsigned             flags;

	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	{
		static const char *names[32];
		size_t             i, n = router_count();

		for (i = 0; i < n && i < 32; i++)
			names[i] = router_path(i);
		metrics_init(names, i);
	}
	srv = xcalloc(1, sizeof *srv);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->wlock, NULL);
	server_cond_init(&srv->wcond);
	srv->deadline_us = (uint64_t)cfg->server.connection_timeout * 1000000u;
	srv->ctx = ctx;
	srv->fd = server_listen(srv, cfg, err, errlen);
	if (srv->fd == -1)
		goto fail;
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	    MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, server_access, srv,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->fd,
	    MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
	    MHD_OPTION_CONNECTION_LIMIT, cfg->server.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    cfg->server.max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)cfg->server.connection_timeout,
	    MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, server_notify, srv,
	    MHD_OPTION_UNESCAPE_CALLBACK, server_unescape, NULL,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, server_memory_limit(cfg),
	    MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, NULL, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server");
		goto fail;
	}
	if (pthread_create(&srv->watchdog, NULL, server_watchdog, srv) != 0)
		fatal("cannot start the connection watchdog");
	server_log_address(srv->fd);
	*out = srv;
	return 0;
fail:
	if (srv->fd != -1 && srv->fd != SD_LISTEN_FDS_START)
		close(srv->fd);
	if (srv->unix_path)
		unlink(srv->path);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->wlock);
	pthread_cond_destroy(&srv->wcond);
	free(srv);
	return -1;
}

void
server_stop(struct server *srv, unsigned grace_ms, void (*drain)(void *arg),
    void *arg)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	unsigned        waited = 0;
	MHD_socket      fd;

	fd = MHD_quiesce_daemon(srv->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (__atomic_load_n(&srv->inflight, __ATOMIC_ACQUIRE) > 0 &&
	    waited < grace_ms) {
		nanosleep(&tick, NULL);
		waited += 10;
	}
	if (waited >= grace_ms)
		log_warn("stopping with %u requests still in flight",
		    __atomic_load_n(&srv->inflight, __ATOMIC_ACQUIRE));
	if (drain != NULL)
		drain(arg);
	MHD_stop_daemon(srv->daemon);
	log_flush();
	pthread_mutex_lock(&srv->wlock);
	srv->stopping = true;
	pthread_cond_signal(&srv->wcond);
	pthread_mutex_unlock(&srv->wlock);
	pthread_join(srv->watchdog, NULL);
	if (srv->unix_path)
		unlink(srv->path);
	context_unref(srv->ctx);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->wlock);
	pthread_cond_destroy(&srv->wcond);
	free(srv);
}
