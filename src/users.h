/*
 * users.h - the user database: loaded whole from the [users] file (INI or
 * htpasswd), immutable afterwards, looked up by name in a hash table, and
 * reference-counted so a reload can swap it while requests still use the
 * old one.
 */
#ifndef JWTGATE_USERS_H
#define JWTGATE_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define USERS_NAME_MAX 64 /* bytes */

struct user {
	char          *name;
	char          *hash;         /* checked by password_check_format() */
	char          *display_name; /* NULL when not given */
	char          *email;        /* NULL when not given */
	struct strlist roles;
	struct strlist scopes; /* a subset of [oauth2] scopes */
	bool           disabled;
};

struct userdb;

/*
 * Load cfg->users.file. On success *out holds one reference. On failure
 * *out is left untouched (a reload keeps the old set) and errs holds every
 * problem as "FILE:LINE: why".
 */
int users_load_all(const struct config *cfg, struct userdb **out,
    struct config_errors *errs);

/* The user called name (case-sensitive), disabled or not; NULL if none. */
const struct user *users_find(const struct userdb *db, const char *name);

size_t users_count(const struct userdb *db);

/*
 * A hash with the format and parameters most users of db have, matching no
 * password: verify an unknown user's password against it so unknown users
 * take as long as known ones even when the file does not use the argon2id
 * defaults. NULL for an empty file (use the default dummy then).
 */
const char *users_dummy_hash(const struct userdb *db);

/* Reference counting; users_free() is users_unref(). NULL is ignored. */
struct userdb *users_ref(struct userdb *db);
void           users_unref(struct userdb *db);
void           users_free(struct userdb *db);

#endif
