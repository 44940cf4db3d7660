/*
 * config.h - the one immutable configuration of a jwtgate process.
 *
 * config_load() reads an INI file through libinih, checks every key against
 * a schema table and fills struct config; nothing is defaulted silently and
 * every error names FILE:LINE: and the key.
 */
#ifndef JWTGATE_CONFIG_H
#define JWTGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONFIG_ERR_MAX 16 /* errors kept by one load */

struct strlist {
	char **v;
	size_t n;
};

enum backend_kind {
	BACKEND_JWT = 0,
	BACKEND_JWT_COOKIE,
	BACKEND_OAUTH2,
};

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON,
};

enum token_alg {
	ALG_HS256 = 0,
	ALG_HS384,
	ALG_HS512,
	ALG_RS256,
	ALG_RS384,
	ALG_RS512,
	ALG_ES256,
	ALG_ES384,
	ALG_ES512,
};

enum samesite {
	SAMESITE_LAX = 0,
	SAMESITE_STRICT,
	SAMESITE_NONE,
};

enum login_body {
	LOGIN_BODY_DEFAULT = 0,
	LOGIN_BODY_NULL,
	LOGIN_BODY_TOKEN,
	LOGIN_BODY_OAUTH2,
	LOGIN_BODY_USER,
};

enum users_format {
	USERS_FORMAT_INI = 0,
	USERS_FORMAT_HTPASSWD,
};

enum store_driver {
	STORE_SQLITE = 0,
	STORE_MEMORY,
	STORE_REDIS,
};

/* One CIDR block of trusted_proxies, in network byte order. */
struct cidr {
	int      family; /* AF_INET or AF_INET6 */
	uint8_t  addr[16];
	unsigned prefix;
};

struct listen_addr {
	int      family; /* AF_INET, AF_INET6 or AF_UNIX */
	char     host[64];
	char     path[108];
	uint16_t port;
};

/* One [route PREFIX] section. */
struct route {
	char             *prefix;
	size_t            prefix_len;
	enum backend_kind backend;
	bool              backend_set; /* false: [auth] backend applies */
	bool public;
	struct strlist methods; /* empty: every method */
	struct strlist require_roles;
	struct strlist require_scopes;
	int            line;
};

struct config {
	char *path;      /* the file as given */
	char *dir;       /* its directory, for relative paths */
	int  *key_lines; /* where each key was given (config_key_where) */

	struct {
		char              *public_url;
		struct listen_addr listen;
		unsigned           threads;
		unsigned           max_connections;
		unsigned           max_connections_per_ip;
		int64_t            connection_timeout; /* seconds */
		size_t             max_body_bytes;
		struct cidr       *trusted_proxies;
		size_t             ntrusted_proxies;
		enum log_level     log_level;
		enum log_format    log_format;
		bool               access_log;
	} server;

	struct {
		enum token_alg algorithm;
		char          *secret_file;       /* absolute, or NULL */
		char          *private_key_file;  /* absolute, or NULL */
		struct strlist retired_key_files; /* absolute paths */
		int64_t        ttl;
		char          *issuer;
		struct strlist audience;
		struct strlist accepted_issuers;
		struct strlist accepted_audiences;
		bool           strict_audience;
		struct strlist require_claims;
		bool           verify_expiry;
		bool           verify_not_before;
		int64_t        leeway;
		size_t         max_token_bytes;
	} token;

	struct {
		enum backend_kind backend;
		char             *auth_header;
		struct strlist    exclude;       /* PCRE2 patterns */
		int              *exclude_lines; /* line of each pattern */
		struct strlist    exclude_methods;
		bool              require_known_user;
	} auth;

	struct {
		char         *name;
		char         *path;
		char         *domain;
		bool          secure;
		enum samesite samesite;
	} cookie;

	struct {
		unsigned        status;
		enum login_body response_body;
		unsigned        max_retries;
		int64_t         find_time;
		int64_t         ban_time;
		unsigned        hash_workers;
	} login;

	struct {
		char          *token_url;
		struct strlist scopes;
		bool           password_grant;
		bool           refresh_tokens;
		int64_t        refresh_ttl;
	} oauth2;

	struct {
		char             *file; /* absolute */
		enum users_format format;
	} users;

	struct {
		enum store_driver driver;
		char             *path; /* absolute */
		char             *url;
	} store;

	struct route *routes;
	size_t        nroutes;
};

/* Errors of one load: each "FILE:LINE: [section] key: why" (or "FILE: why"). */
struct config_errors {
	char   msg[CONFIG_ERR_MAX][2048]; /* room for two long paths */
	size_t n;                         /* kept */
	size_t dropped;                   /* beyond CONFIG_ERR_MAX */
};

int
config_load(const char *path, struct config **out, struct config_errors *errs);
void config_free(struct config *cfg);
/* Add one message to errs (counted in dropped past CONFIG_ERR_MAX). */
void config_error(struct config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void
config_errors_merge(struct config_errors *dst, const struct config_errors *src);
/*
 * "FILE:LINE: " where [section] name was given, "FILE: " for a default,
 * "" for a configuration not read from a file (tests).
 */
void config_key_where(const struct config *cfg, const char *section,
    const char *name, char *buf, size_t len);

/* Helpers shared with other modules that read user-facing values. */
int         config_parse_bool(const char *s, bool *out);
int         config_parse_duration(const char *s, int64_t *out);
int         config_split_list(const char *s, struct strlist *out);
void        strlist_free(struct strlist *l);
bool        strlist_contains(const struct strlist *l, const char *s);
const char *config_alg_name(enum token_alg alg);

#endif
