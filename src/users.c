/*
 * users.c - the user file, in INI (one section per user) or htpasswd form.
 *
 * INI files go through libinih, with our own line reader in front of it:
 * the reader counts lines (libinih is built without INI_HANDLER_LINENO),
 * reads section headers itself (libinih truncates section names to 49
 * bytes, shorter than a user name may be, and never reports an empty
 * section), strips leading blanks (so no line is taken as a multi-line
 * continuation) and reports the lines libinih would reject, each with its
 * own line number. libinih still splits keys from values, trims them and
 * drops comments.
 */
#include "users.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <ini.h>

#include "password.h"
#include "xmalloc.h"

enum users_key {
	KEY_PASSWORD = 0,
	KEY_NAME,
	KEY_EMAIL,
	KEY_ROLES,
	KEY_SCOPES,
	KEY_DISABLED,
	KEY_MAX,
};

static const char *const users_keys[KEY_MAX] = {
    [KEY_PASSWORD] = "password",
    [KEY_NAME] = "name",
    [KEY_EMAIL] = "email",
    [KEY_ROLES] = "roles",
    [KEY_SCOPES] = "scopes",
    [KEY_DISABLED] = "disabled",
};

struct userdb {
	unsigned     refs; /* atomic */
	struct user *users;
	size_t       n, cap;
	uint32_t    *slots; /* index + 1 into users; 0 is empty */
	size_t       mask;
	char        *dummy;
};

/* State of one load; gone when users_load_all() returns. */
struct users_ctx {
	const struct config  *cfg;
	const char           *file;
	struct config_errors *errs;
	FILE                 *fp;
	int                   lineno;
	char                 *buf;
	size_t                bufsize;
	struct userdb        *db;
	int                  *lines; /* line of each user */
	int (*keylines)[KEY_MAX];
	long cur; /* current user, -1: none or skipped */
	bool in_section;
	bool ini;
};

static void users_error(struct users_ctx *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
users_error(struct users_ctx *ctx, int line, const char *fmt, ...)
{
	struct config_errors *errs = ctx->errs;
	char                 *msg;
	int                   n;
	va_list               ap;

	if (errs->n == CONFIG_ERR_MAX) {
		errs->dropped++;
		return;
	}
	msg = errs->msg[errs->n++];
	if (line > 0)
		n = snprintf(msg, sizeof errs->msg[0], "%s:%d: ", ctx->file,
		    line);
	else
		n = snprintf(msg, sizeof errs->msg[0], "%s: ", ctx->file);
	if (n < 0 || (size_t)n >= sizeof errs->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof errs->msg[0] - (size_t)n, fmt, ap);
	va_end(ap);
}

/* An error about user i's key ("" for the user as a whole). */
static void
users_user_error(struct users_ctx *ctx, int line, size_t i, const char *key,
    const char *why)
{
	const char *name = ctx->db->users[i].name;

	if (!ctx->ini)
		users_error(ctx, line, "%s: %s", name, why);
	else if (*key == '\0')
		users_error(ctx, line, "[%s]: %s", name, why);
	else
		users_error(ctx, line, "[%s] %s: %s", name, key, why);
}

static uint64_t
users_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
users_table_grow(struct userdb *db)
{
	size_t size = db->slots == NULL ? 64 : (db->mask + 1) * 2;
	size_t i, j;

	free(db->slots);
	db->slots = xcalloc(size, sizeof *db->slots);
	db->mask = size - 1;
	for (i = 0; i < db->n; i++) {
		j = users_hash(db->users[i].name) & db->mask;
		while (db->slots[j] != 0)
			j = (j + 1) & db->mask;
		db->slots[j] = (uint32_t)(i + 1);
	}
}

static long
users_lookup(const struct userdb *db, const char *name)
{
	size_t j;

	if (db->slots == NULL)
		return -1;
	for (j = users_hash(name) & db->mask; db->slots[j] != 0;
	     j = (j + 1) & db->mask) {
		if (strcmp(db->users[db->slots[j] - 1].name, name) == 0)
			return (long)db->slots[j] - 1;
	}
	return -1;
}

/* Why name cannot be a user name, or NULL. The name itself is not quoted. */
static const char *
users_name_invalid(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0)
		return "empty user name";
	if (len > USERS_NAME_MAX)
		return "user name longer than 64 bytes";
	for (i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return "user name contains control characters";
		if (name[i] == ':')
			return "user name contains ':'";
	}
	if (name[0] == ' ' || name[len - 1] == ' ')
		return "user name has leading or trailing spaces";
	return NULL;
}

/* Start user name at the current line; -1 if it cannot be one. */
static long
users_add(struct users_ctx *ctx, const char *name)
{
	struct userdb *db = ctx->db;
	const char    *why;
	long           dup;
	size_t         i;

	if ((why = users_name_invalid(name)) != NULL) {
		users_error(ctx, ctx->lineno, "%s", why);
		return -1;
	}
	if ((dup = users_lookup(db, name)) != -1) {
		if (ctx->ini)
			users_error(ctx, ctx->lineno,
			    "[%s]: duplicate user (first at line %d)", name,
			    ctx->lines[dup]);
		else
			users_error(ctx, ctx->lineno,
			    "%s: duplicate user (first at line %d)", name,
			    ctx->lines[dup]);
		return -1;
	}
	if (db->n == UINT32_MAX - 1) {
		users_error(ctx, ctx->lineno, "too many users");
		return -1;
	}
	if (db->n == db->cap) {
		db->cap = db->cap ? db->cap * 2 : 16;
		db->users =
		    xreallocarray(db->users, db->cap, sizeof *db->users);
		ctx->lines =
		    xreallocarray(ctx->lines, db->cap, sizeof *ctx->lines);
		ctx->keylines = xreallocarray(ctx->keylines, db->cap,
		    sizeof *ctx->keylines);
	}
	i = db->n++;
	memset(&db->users[i], 0, sizeof db->users[i]);
	memset(ctx->keylines[i], 0, sizeof ctx->keylines[i]);
	db->users[i].name = xstrdup(name);
	ctx->lines[i] = ctx->lineno;
	if (db->n * 2 > db->mask + 1 || db->slots == NULL)
		users_table_grow(db);
	else {
		size_t j = users_hash(name) & db->mask;

		while (db->slots[j] != 0)
			j = (j + 1) & db->mask;
		db->slots[j] = (uint32_t)(i + 1);
	}
	return (long)i;
}

static bool
users_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const char *
users_parse_list(const char *value, struct strlist *out)
{
	size_t i;

	if (config_split_list(value, out) == -1)
		return "invalid list (empty item)";
	for (i = 0; i < out->n; i++) {
		if (users_has_control(out->v[i])) {
			strlist_free(out);
			return "contains control characters";
		}
	}
	return NULL;
}

/* Parse one "key = value" of user i; why is NULL or the problem. */
static void
users_set(struct users_ctx *ctx, size_t i, enum users_key key,
    const char *value)
{
	struct user *u = &ctx->db->users[i];
	const char  *why = NULL;
	char         buf[160];
	size_t       k;

	if (*value == '\0' && key != KEY_ROLES && key != KEY_SCOPES) {
		users_user_error(ctx, ctx->lineno, i, users_keys[key],
		    "empty value");
		return;
	}
	switch (key) {
	case KEY_PASSWORD:
		if (password_check_format(value, &why) == 0)
			u->hash = xstrdup(value);
		break;
	case KEY_NAME:
	case KEY_EMAIL:
		if (users_has_control(value))
			why = "contains control characters";
		else if (key == KEY_NAME)
			u->display_name = xstrdup(value);
		else
			u->email = xstrdup(value);
		break;
	case KEY_ROLES: why = users_parse_list(value, &u->roles); break;
	case KEY_SCOPES:
		if ((why = users_parse_list(value, &u->scopes)) != NULL)
			break;
		for (k = 0; k < u->scopes.n; k++) {
			if (strlist_contains(&ctx->cfg->oauth2.scopes,
			        u->scopes.v[k]))
				continue;
			snprintf(buf, sizeof buf,
			    "unknown scope '%.64s' (not in [oauth2] scopes)",
			    u->scopes.v[k]);
			why = buf;
			strlist_free(&u->scopes);
			break;
		}
		break;
	case KEY_DISABLED:
		if (config_parse_bool(value, &u->disabled) == -1)
			why = "expected a boolean "
			      "(true/false/yes/no/on/off/1/0)";
		break;
	case KEY_MAX: break;
	}
	if (why != NULL)
		users_user_error(ctx, ctx->lineno, i, users_keys[key], why);
}

/* libinih handler: section is ignored, the reader tracks users. */
static int
users_ini_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct users_ctx *ctx = arg;
	size_t            i;
	int               key;

	if (!ctx->in_section) {
		users_error(ctx, ctx->lineno, "%s: outside a user section",
		    name);
		return 1;
	}
	if (ctx->cur < 0)
		return 1; /* the section header was already reported */
	i = (size_t)ctx->cur;
	if (*name == '\0') {
		users_user_error(ctx, ctx->lineno, i, "", "missing key name");
		return 1;
	}
	for (key = 0; key < KEY_MAX; key++)
		if (strcmp(name, users_keys[key]) == 0)
			break;
	if (key == KEY_MAX) {
		users_user_error(ctx, ctx->lineno, i, name, "unknown key");
		return 1;
	}
	if (ctx->keylines[i][key] != 0) {
		char why[64];

		snprintf(why, sizeof why, "duplicate key (first at line %d)",
		    ctx->keylines[i][key]);
		users_user_error(ctx, ctx->lineno, i, name, why);
		return 1;
	}
	ctx->keylines[i][key] = ctx->lineno;
	users_set(ctx, i, (enum users_key)key, value);
	return 1;
}

/*
 * Where libinih splits a key line: the first '=' or ':', unless a ';'
 * after a blank (an inline comment) comes first.
 */
static bool
users_ini_has_separator(const char *s)
{
	bool blank = false;

	for (; *s != '\0'; s++) {
		if (*s == '=' || *s == ':')
			return true;
		if (blank && *s == ';')
			return false;
		blank = *s == ' ' || *s == '\t';
	}
	return false;
}

/* A "[name]" line: start the user, or report why not. */
static void
users_ini_section(struct users_ctx *ctx, char *line)
{
	char *end = strchr(line, ']'), *rest;

	ctx->in_section = true;
	ctx->cur = -1; /* keys of a bad header are not reported again */
	if (end == NULL) {
		users_error(ctx, ctx->lineno, "section header without ']'");
		return;
	}
	*end = '\0';
	for (rest = end + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		users_error(ctx, ctx->lineno, "unexpected text after ']'");
		return;
	}
	ctx->cur = users_add(ctx, line + 1);
}

/*
 * libinih's reader: hands over key lines only, blank lines for the rest
 * (after handling or reporting them).
 */
static char *
users_ini_reader(char *str, int num, void *arg)
{
	struct users_ctx *ctx = arg;
	ssize_t           n;
	char             *line;
	size_t            len;

	if ((n = getline(&ctx->buf, &ctx->bufsize, ctx->fp)) < 0)
		return NULL;
	ctx->lineno++;
	line = ctx->buf;
	len = (size_t)n;
	str[0] = '\0';
	if (strlen(line) != len) {
		users_error(ctx, ctx->lineno, "line contains a NUL byte");
		return str;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (ctx->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	while (*line == ' ' || *line == '\t')
		line++;
	len = strlen(line);
	if (*line == '\0' || *line == ';' || *line == '#')
		return str;
	if (*line == '[') {
		users_ini_section(ctx, line);
		return str;
	}
	if (len + 1 > (size_t)num) {
		users_error(ctx, ctx->lineno,
		    "line too long (at most %d bytes)", num - 1);
		return str;
	}
	if (!users_ini_has_separator(line)) {
		users_error(ctx, ctx->lineno, "expected 'key = value'");
		return str;
	}
	memcpy(str, line, len + 1);
	return str;
}

static void
users_parse_ini(struct users_ctx *ctx)
{
	size_t i;

	ctx->ini = true;
	ctx->cur = -1;
	/* errors are reported by the reader and the handler, not the result */
	(void)ini_parse_stream(users_ini_reader, ctx, users_ini_handler, ctx);
	for (i = 0; i < ctx->db->n; i++)
		if (ctx->db->users[i].hash == NULL &&
		    ctx->keylines[i][KEY_PASSWORD] == 0)
			users_user_error(ctx, ctx->lines[i], i, "",
			    "missing password");
}

static void
users_parse_htpasswd(struct users_ctx *ctx)
{
	const char *why;
	char       *line, *colon;
	ssize_t     n;
	size_t      len;
	long        i;

	while ((n = getline(&ctx->buf, &ctx->bufsize, ctx->fp)) >= 0) {
		ctx->lineno++;
		line = ctx->buf;
		len = (size_t)n;
		if (strlen(line) != len) {
			users_error(ctx, ctx->lineno,
			    "line contains a NUL byte");
			continue;
		}
		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((colon = strchr(line, ':')) == NULL) {
			users_error(ctx, ctx->lineno, "expected 'user:hash'");
			continue;
		}
		*colon = '\0';
		if ((i = users_add(ctx, line)) < 0)
			continue;
		if (password_check_format(colon + 1, &why) == -1) {
			users_user_error(ctx, ctx->lineno, (size_t)i, "", why);
			continue;
		}
		ctx->db->users[i].hash = xstrdup(colon + 1);
	}
}

/*
 * Group hashes by cost (format and parameters). Each group's parameters
 * are tried once with a real hash (libcrypt and libargon2 check what the
 * cheap structural check cannot, e.g. yescrypt's encoded parameters); the
 * largest group's hash becomes the dummy for unknown users.
 */
static void
users_params(struct users_ctx *ctx)
{
	struct group {
		const char *hash;
		size_t      len, count, first;
	} *groups = NULL;
	struct userdb *db = ctx->db;
	size_t         ngroups = 0, i, g, best = 0, len;
	const char    *why;
	char          *like;

	for (i = 0; i < db->n; i++) {
		if (db->users[i].hash == NULL)
			continue;
		len = password_params_len(db->users[i].hash);
		for (g = 0; g < ngroups; g++)
			if (groups[g].len == len &&
			    memcmp(groups[g].hash, db->users[i].hash, len) == 0)
				break;
		if (g == ngroups) {
			groups =
			    xreallocarray(groups, ngroups + 1, sizeof *groups);
			groups[ngroups++] =
			    (struct group){db->users[i].hash, len, 0, i};
		}
		groups[g].count++;
	}
	for (g = 0; g < ngroups; g++) {
		if (password_hash_like(groups[g].hash, &like, &why) == -1) {
			users_user_error(ctx,
			    ctx->keylines[groups[g].first][KEY_PASSWORD]
			        ? ctx->keylines[groups[g].first][KEY_PASSWORD]
			        : ctx->lines[groups[g].first],
			    groups[g].first, ctx->ini ? "password" : "", why);
			continue;
		}
		if (db->dummy == NULL || groups[g].count > groups[best].count) {
			free(db->dummy);
			db->dummy = like;
			best = g;
		} else
			free(like);
	}
	free(groups);
}

static void
users_destroy(struct userdb *db)
{
	size_t i;

	for (i = 0; i < db->n; i++) {
		free(db->users[i].name);
		free(db->users[i].hash);
		free(db->users[i].display_name);
		free(db->users[i].email);
		strlist_free(&db->users[i].roles);
		strlist_free(&db->users[i].scopes);
	}
	free(db->users);
	free(db->slots);
	free(db->dummy);
	free(db);
}

int
users_load_all(const struct config *cfg, struct userdb **out,
    struct config_errors *errs)
{
	struct users_ctx ctx;
	int              rc = -1;

	memset(errs, 0, sizeof *errs);
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = cfg;
	ctx.errs = errs;
	ctx.file = cfg->users.file != NULL ? cfg->users.file : "(none)";
	ctx.db = xcalloc(1, sizeof *ctx.db);
	ctx.db->refs = 1;
	if (cfg->users.file == NULL) {
		users_error(&ctx, 0, "no user file configured");
		goto out;
	}
	if ((ctx.fp = fopen(cfg->users.file, "re")) == NULL) {
		users_error(&ctx, 0, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (cfg->users.format == USERS_FORMAT_HTPASSWD)
		users_parse_htpasswd(&ctx);
	else
		users_parse_ini(&ctx);
	if (ferror(ctx.fp))
		users_error(&ctx, 0, "read error");
	users_params(&ctx);
	if (errs->n == 0 && errs->dropped == 0) {
		*out = ctx.db;
		ctx.db = NULL;
		rc = 0;
	}
out:
	if (ctx.fp != NULL)
		fclose(ctx.fp);
	if (ctx.db != NULL)
		users_destroy(ctx.db);
	free(ctx.buf);
	free(ctx.lines);
	free(ctx.keylines);
	return rc;
}

const struct user *
users_find(const struct userdb *db, const char *name)
{
	long i;

	if (db == NULL || name == NULL || (i = users_lookup(db, name)) < 0)
		return NULL;
	return &db->users[i];
}

size_t
users_count(const struct userdb *db)
{
	return db->n;
}

const char *
users_dummy_hash(const struct userdb *db)
{
	return db->dummy;
}

struct userdb *
users_ref(struct userdb *db)
{
	if (db != NULL)
		__atomic_add_fetch(&db->refs, 1, __ATOMIC_RELAXED);
	return db;
}

void
users_unref(struct userdb *db)
{
	if (db != NULL &&
	    __atomic_sub_fetch(&db->refs, 1, __ATOMIC_ACQ_REL) == 0)
		users_destroy(db);
}

void
users_free(struct userdb *db)
{
	users_unref(db);
}
