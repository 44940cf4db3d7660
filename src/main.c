/*
 * main.c - jwtgate's command line: argv, subcommands, and the serve loop.
 * Start-up runs in order (config, log, context, server) and shutdown in
 * reverse. Exit status: 0 success, 1 runtime failure, 2 bad usage or
 * invalid configuration.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "config.h"
#include "context.h"
#include "issue.h"
#include "keys.h"
#include "log.h"
#include "password.h"
#include "server.h"
#include "token.h"
#include "users.h"
#include "xmalloc.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define GRACE_MS     10000 /* SIGTERM: time left to requests in flight */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static int cmd_serve(int, char **);
static int cmd_check(int, char **);
static int cmd_hash_password(int, char **);
static int cmd_token(int, char **);
static int cmd_keygen(int, char **);

static const struct command commands[] = {
    {"serve", cmd_serve,
        "serve -c FILE          run in the foreground; logs to stderr"},
    {"check", cmd_check,
        "check -c FILE          validate FILE and everything it references"},
    {"hash-password", cmd_hash_password,
        "hash-password [-a argon2id|bcrypt|yescrypt|sha512crypt]\n"
        "                                 read one password (stdin, or twice at a no-echo prompt on a tty), print its hash"},
    {"token", cmd_token,
        "token -c FILE -s SUB [-t TTL] [-a AUD] [-C KEY=VALUE]...\n"
        "                                 mint a signed access token with the configured key"},
    {"keygen", cmd_keygen,
        "keygen -a ALG [-o FILE] write a new private key (PEM) or HMAC secret for ALG, mode 0600"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: jwtgate COMMAND [OPTIONS]\n\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  jwtgate %s\n", commands[i].usage);
	fprintf(fp,
	    "  jwtgate --version | --help\n\n"
	    "Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid configuration.\n");
}

static void
print_config_errors(const struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		fprintf(stderr, "jwtgate: %s\n", errs->msg[i]);
	if (errs->dropped > 0)
		fprintf(stderr, "jwtgate: ... and %zu more errors\n",
		    errs->dropped);
}

/* "-c FILE" is the only option of serve and check. */
static const char *
parse_config_option(int argc, char **argv)
{
	const char *path = NULL;
	int         ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt(argc, argv, ":c:")) != -1) {
		switch (ch) {
		case 'c':
			if (path != NULL) {
				fprintf(stderr, "jwtgate: -c given twice\n");
				return NULL;
			}
			path = optarg;
			break;
		case ':':
			fprintf(stderr, "jwtgate: -%c needs an argument\n",
			    optopt);
			return NULL;
		default:
			fprintf(stderr, "jwtgate: unknown option -%c\n",
			    optopt);
			return NULL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "jwtgate: unexpected argument '%s'\n",
		    argv[optind]);
		return NULL;
	}
	if (path == NULL)
		fprintf(stderr, "jwtgate: %s needs -c FILE\n", argv[0]);
	return path;
}

/*
 * Load FILE and build everything it references; print errors. With sv,
 * also open the process-wide services (*sv) first: serve does, check not.
 * -1: the configuration or what it names is invalid; -2: the store could
 * not be opened (a runtime failure: it may work on the next try).
 */
static int
load_context(const char *path, struct services **sv, struct context **out)
{
	struct config_errors errs;
	struct config       *cfg;
	char                 err[1024];

	if (config_load(path, &cfg, &errs) == -1) {
		print_config_errors(&errs);
		return -1;
	}
	/* A store that cannot be opened is a runtime failure, not a config error. */
	if (sv != NULL && services_new(cfg, sv, err, sizeof err) == -1) {
		fprintf(stderr, "jwtgate: %s\n", err);
		config_free(cfg);
		return -2;
	}
	if (context_new(cfg, sv != NULL ? *sv : NULL, out, &errs) == -1) {
		print_config_errors(&errs);
		if (sv != NULL)
			services_free(*sv);
		return -1;
	}
	return 0;
}

static int
cmd_check(int argc, char **argv)
{
	const char     *path = parse_config_option(argc, argv);
	struct context *ctx;

	if (path == NULL)
		return EXIT_USAGE;
	if (load_context(path, NULL, &ctx) == -1)
		return EXIT_USAGE;
	context_unref(ctx);
	printf("%s: OK\n", path);
	return 0;
}

/* hash-password [-a ALG]: reading and hashing live in password.c. */
static int
cmd_hash_password(int argc, char **argv)
{
	enum password_alg alg = PASSWORD_ARGON2ID;
	const char       *why;
	char             *password, *hash;
	int               ch, rc;

	optind = 1;
	while ((ch = getopt(argc, argv, "a:")) != -1) {
		if (ch != 'a' || password_alg_parse(optarg, &alg) == -1) {
			fprintf(stderr,
			    "jwtgate: hash-password -a takes argon2id, "
			    "bcrypt, yescrypt or sha512crypt\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "jwtgate: unexpected argument '%s'\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	/* No, an empty, a too long or a mistyped password: bad input. */
	if (password_read_new(stdin, &password, &why) == -1) {
		fprintf(stderr, "jwtgate: %s\n", why);
		return EXIT_USAGE;
	}
	rc = password_hash(alg, password, &hash, &why);
	password_free(password);
	if (rc < 0) {
		fprintf(stderr, "jwtgate: %s\n", why);
		return rc == -2 ? EXIT_USAGE : EXIT_RUNTIME;
	}
	printf("%s\n", hash);
	free(hash);
	return 0;
}

/*
 * -C scope=LIST: the scopes, one space apart, or NULL for none (an empty
 * list); a warning for each one [oauth2] scopes does not list.
 */
static char *
token_cli_scope(const struct config *cfg, const char *list)
{
	struct strlist l = {NULL, 0};
	char          *copy = xstrdup(list), *tok, *save = NULL, *out;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		l.v = xreallocarray(l.v, l.n + 1, sizeof *l.v);
		l.v[l.n++] = tok;
		if (!strlist_contains(&cfg->oauth2.scopes, tok))
			fprintf(stderr,
			    "jwtgate: token: warning: scope %s is not in "
			    "[oauth2] scopes\n",
			    tok);
	}
	out = l.n > 0 ? issue_join(&l) : NULL;
	free(l.v);
	free(copy);
	return out;
}

/* token -c FILE -s SUB ...: claims and signing live in token.c. */
static int
cmd_token(int argc, char **argv)
{
	struct token_params    p = {0};
	struct strlist         aud = {NULL, 0};
	struct config_errors   errs;
	struct config         *cfg = NULL;
	struct keyring        *keys = NULL;
	struct token_verifier *v = NULL;
	struct userdb         *users = NULL;
	const struct user     *user;
	json_t                *claims = json_object();
	const char            *path = NULL, *why;
	char                  *jwt = NULL, *scope = NULL;
	const char            *scope_arg = NULL;
	int                    ch, rc = EXIT_USAGE;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:s:t:a:C:")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 's': p.sub = optarg; break;
		case 't':
			if (config_parse_duration(optarg, &p.ttl) == -1 ||
			    p.ttl <= 0) {
				fprintf(stderr,
				    "jwtgate: token -t %s: not a positive duration\n",
				    optarg);
				goto out;
			}
			break;
		case 'a':
			aud.v = xreallocarray(aud.v, aud.n + 1, sizeof *aud.v);
			aud.v[aud.n++] = optarg;
			break;
		case 'C':
			/* scope is ours to set, from a space-separated list. */
			if (strncmp(optarg, "scope=", 6) == 0) {
				scope_arg = optarg + 6;
				break;
			}
			if (token_claim_arg(claims, optarg, &why) == -1) {
				fprintf(stderr, "jwtgate: token -C %s: %s\n",
				    optarg, why);
				goto out;
			}
			break;
		default: goto out;
		}
	}
	if (optind != argc || path == NULL || p.sub == NULL) {
		fprintf(stderr, "jwtgate: token needs -c FILE -s SUB\n");
		goto out;
	}
	if (config_load(path, &cfg, &errs) == -1) {
		print_config_errors(&errs);
		goto out;
	}
	if (keys_load(cfg, &keys, &errs) == -1) {
		print_config_errors(&errs);
		goto out;
	}
	/* A user of the user file gets what /login would give: extras, scope. */
	if (users_load_all(cfg, &users, &errs) == -1) {
		print_config_errors(&errs);
		goto out;
	}
	if ((user = users_find(users, p.sub)) != NULL) {
		p.extras = issue_extras(user);
		if (scope_arg == NULL && user->scopes.n > 0)
			p.scope = scope = issue_join(&user->scopes);
		if (user->disabled)
			fprintf(stderr,
			    "jwtgate: token: warning: user %s is "
			    "disabled; the token will be refused\n",
			    p.sub);
	} else if (cfg->auth.require_known_user)
		fprintf(stderr,
		    "jwtgate: token: warning: %s is not in %s; with "
		    "require_known_user the token will be refused\n",
		    p.sub, cfg->users.file);
	if (scope_arg != NULL)
		p.scope = scope = token_cli_scope(cfg, scope_arg);
	v = token_verifier_new(cfg, keys);
	p.audience = aud.n > 0 ? &aud : NULL;
	p.claims = claims;
	switch (token_issue(v, &p, clock_now(), &jwt, NULL, &why)) {
	case TOKEN_OK:
		printf("%s\n", jwt);
		rc = 0;
		break;
	case TOKEN_INVALID: fprintf(stderr, "jwtgate: token: %s\n", why); break;
	case TOKEN_ERROR:
		fprintf(stderr, "jwtgate: token: %s\n", why);
		rc = EXIT_RUNTIME;
		break;
	}
out:
	free(jwt);
	free(scope);
	json_decref(p.extras);
	token_verifier_free(v);
	if (users != NULL)
		users_unref(users);
	keys_free(keys);
	config_free(cfg);
	json_decref(claims);
	free(aud.v);
	return rc;
}

/* keygen -a ALG [-o FILE]: generation and the 0600 file live in keys.c. */
static int
cmd_keygen(int argc, char **argv)
{
	enum token_alg alg;
	const char    *name = NULL, *out = NULL;
	char           err[1024];
	int            ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "a:o:")) != -1) {
		switch (ch) {
		case 'a': name = optarg; break;
		case 'o': out = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || name == NULL) {
		fprintf(stderr, "jwtgate: keygen needs -a ALG [-o FILE]\n");
		return EXIT_USAGE;
	}
	if (keys_alg_parse(name, &alg) == -1) {
		fprintf(stderr,
		    "jwtgate: keygen -a %s: not one of HS256 HS384 HS512 RS256 "
		    "RS384 RS512 ES256 ES384 ES512\n",
		    name);
		return EXIT_USAGE;
	}
	if (keys_generate(alg, out, err, sizeof err) == -1) {
		fprintf(stderr, "jwtgate: keygen: %s\n", err);
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * Keys read once at start-up (the listening socket, the thread pool, the
 * store, the hash pool and the regulation policy): a reload that changes
 * them says so, since they keep their old values until a restart.
 */
static void
serve_reload_warn(const struct config *old, const struct config *new)
{
	static const struct {
		const char *key;
		size_t      off, len;
	} fixed[] = {
#define F(key, field)                                                          \
	{key, offsetof(struct config, field),                                  \
	    sizeof(((struct config *)0)->field)}
	    F("[server] listen", server.listen),
	    F("[server] threads", server.threads),
	    F("[server] max_connections", server.max_connections),
	    F("[server] max_connections_per_ip", server.max_connections_per_ip),
	    F("[server] connection_timeout", server.connection_timeout),
	    F("[login] max_retries", login.max_retries),
	    F("[login] find_time", login.find_time),
	    F("[login] ban_time", login.ban_time),
	    F("[login] hash_workers", login.hash_workers),
	    F("[store] driver", store.driver),
#undef F
	};
	size_t i;

	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (memcmp((const char *)old + fixed[i].off,
		        (const char *)new + fixed[i].off, fixed[i].len) != 0)
			log_warn(
			    "reload: %s changed; it takes effect at the next restart",
			    fixed[i].key);
	if ((old->store.path == NULL) != (new->store.path == NULL) ||
	    (old->store.path != NULL &&
	        strcmp(old->store.path, new->store.path) != 0) ||
	    (old->store.url == NULL) != (new->store.url == NULL) ||
	    (old->store.url != NULL &&
	        strcmp(old->store.url, new->store.url) != 0))
		log_warn(
		    "reload: [store] changed; it takes effect at the next restart");
}

/*
 * SIGHUP: a new configuration replaces the old only if all of it loads.
 * *cur is the context in force (a reference of ours), replaced on success.
 */
static void
serve_reload(struct server *srv, struct services *sv, const char *path,
    struct context **cur)
{
	struct config_errors errs;
	struct config       *cfg;
	struct context      *ctx;
	size_t               i;

	sd_notify(0, "RELOADING=1");
	if (config_load(path, &cfg, &errs) == -1 ||
	    context_new(cfg, sv, &ctx, &errs) == -1) {
		for (i = 0; i < errs.n; i++)
			log_error("reload refused: %s", errs.msg[i]);
		if (errs.dropped > 0)
			log_error("reload refused: ... and %zu more errors",
			    errs.dropped);
		goto out;
	}
	serve_reload_warn((*cur)->cfg, ctx->cfg);
	log_init(ctx->cfg->server.log_level, ctx->cfg->server.log_format);
	context_unref(*cur);
	*cur = context_ref(ctx);
	server_set_context(srv, ctx);
	log_info("configuration reloaded from %s", path);
out:
	sd_notify(0, "READY=1");
}

/* Before libmicrohttpd stops: no password check may resume a dead connection. */
static void
serve_drain(void *arg)
{
	services_drain(arg);
}

static int
cmd_serve(int argc, char **argv)
{
	const char      *path = parse_config_option(argc, argv);
	struct context  *ctx, *cur;
	struct services *sv;
	struct server   *srv;
	sigset_t         set;
	char             err[1024];
	int              sig;

	if (path == NULL)
		return EXIT_USAGE;
	/*
	 * Signals are taken synchronously by this thread only: blocked before
	 * any thread exists (the hash pool's, the server's), so every thread
	 * inherits the mask and none can die of a SIGHUP or SIGTERM.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	switch (load_context(path, &sv, &ctx)) {
	case 0: break;
	case -2: return EXIT_RUNTIME;
	default: return EXIT_USAGE;
	}
	log_init(ctx->cfg->server.log_level, ctx->cfg->server.log_format);

	if (server_start(ctx, &srv, err, sizeof err) == -1) {
		log_error("%s", err);
		context_unref(ctx);
		services_free(sv);
		return EXIT_RUNTIME;
	}
	sd_notify(0, "READY=1");
	cur = context_ref(ctx);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			serve_reload(srv, sv, path, &cur);
			continue;
		}
		break;
	}
	sd_notify(0, "STOPPING=1");
	log_info("stopping (%s)", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	context_unref(cur);
	server_stop(srv, GRACE_MS, serve_drain, sv);
	services_free(sv);
	log_info("stopped");
	return 0;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("jwtgate %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "jwtgate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
