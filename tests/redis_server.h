/*
 * redis_server.h - a real redis-server for the store tests, on 127.0.0.1
 * and a free port, stopped by PID.
 */
#ifndef JWTGATE_TESTS_REDIS_SERVER_H
#define JWTGATE_TESTS_REDIS_SERVER_H

#include <stddef.h>
#include <sys/types.h>

/* An unused TCP port on 127.0.0.1, or -1. */
int free_port(void);
/* 0 when the server on port answers PING with +PONG. */
int redis_pong(int port);
/*
 * Start redis-server on port with its data in dir (appendonly, fsync on
 * every write: what a production Redis for jwtgate runs with). 0 and *pid,
 * or -1 with why filled (naming `make deps` when it is not installed).
 */
int  redis_start(const char *dir, int port, pid_t *pid, char *why, size_t len);
void redis_stop(pid_t pid, int sig);

#endif
