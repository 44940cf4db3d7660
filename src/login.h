/*
 * login.h - password logins shared by POST /login and the password grant
 * of POST /token: regulation, hashing off the HTTP threads, one answer.
 */
#ifndef JWTGATE_LOGIN_H
#define JWTGATE_LOGIN_H

#include <stdbool.h>

struct request;
struct user;

/*
 * Called on a hash worker with the user when the password matched an
 * enabled user, else NULL; it fills req->res. scope is what login_start()
 * was given.
 */
typedef void (*login_done_fn)(struct request *req, const struct user *user,
    const char *scope);

/*
 * Check bans (429 in the /login or, with oauth, the RFC 6749 style), then
 * verify the password on the hash pool and call done. The request is
 * answered when done returns.
 */
void login_start(struct request *req, const char *username,
    const char *password, const char *scope, bool oauth, login_done_fn done);

/* The login_done_fn of POST /login. */
void
login_reply(struct request *req, const struct user *user, const char *scope);

#endif
