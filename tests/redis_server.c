/*
 * redis_server.c - start and stop a redis-server for the tests.
 */
#include "redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t          len = sizeof sin;
	int                fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* 0 when the server on port answers PING with +PONG. */
int
redis_pong(int port)
{
	struct sockaddr_in sin;
	char               buf[16];
	ssize_t            n;
	int                fd, rv = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    write(fd, "PING\r\n", 6) == 6 &&
	    (n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = '\0';
		rv = strncmp(buf, "+PONG", 5) == 0 ? 0 : -1;
	}
	close(fd);
	return rv;
}

/*
 * Start redis-server on port with its data in rdir (appendonly, fsync on
 * every write: what SPEC 7 asks of a production Redis). 0 and *pid, or -1
 * with why filled.
 */
int
redis_start(const char *rdir, int port, pid_t *pid, char *why, size_t len)
{
	char  portstr[16];
	int   i, status;
	pid_t p;

	snprintf(portstr, sizeof portstr, "%d", port);
	if ((p = fork()) == -1) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execlp("redis-server", "redis-server", "--port", portstr,
		    "--bind", "127.0.0.1", "--dir", rdir, "--save", "",
		    "--appendonly", "yes", "--appendfsync", "always",
		    "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) { /* 5 s */
		if (redis_pong(port) == 0) {
			*pid = p;
			return 0;
		}
		if (waitpid(p, &status, WNOHANG) == p) {
			snprintf(why, len,
			    "redis-server %s (exit %d): "
			    "run 'make deps'",
			    WIFEXITED(status) && WEXITSTATUS(status) == 127
			        ? "is not installed"
			        : "failed to start",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			return -1;
		}
		usleep(10000);
	}
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	snprintf(why, len, "redis-server on port %d did not answer", port);
	return -1;
}

void
redis_stop(pid_t pid, int sig)
{
	if (pid > 0) {
		kill(pid, sig);
		waitpid(pid, NULL, 0);
	}
}
