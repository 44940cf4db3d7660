/*
 * password.c - hash formats through libargon2 and libcrypt (libxcrypt).
 *
 * Formats are recognised by prefix and checked structurally at load, so a
 * truncated or mangled hash is refused with FILE:LINE: instead of failing
 * at the first login. libcrypt happily treats a truncated hash as a salt
 * ("setting") and computes a fresh hash from it, so the digest length must
 * be checked here; it cannot be left to crypt_rn().
 */
#include "password.h"

#include <argon2.h>
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "xmalloc.h"

enum hash_kind {
	KIND_ARGON2ID,
	KIND_ARGON2I,
	KIND_BCRYPT,
	KIND_YESCRYPT,
	KIND_SCRYPT,
	KIND_SHA512,
	KIND_SHA256,
};

struct hash_format {
	const char    *prefix;
	enum hash_kind kind;
	size_t         digest; /* crypt: characters after the last '$' */
	const char    *malformed;
};

static const struct hash_format password_formats[] = {
    {"$argon2id$", KIND_ARGON2ID, 0, "malformed argon2id hash"},
    {"$argon2i$", KIND_ARGON2I, 0, "malformed argon2i hash"},
    {"$2b$", KIND_BCRYPT, 53, "malformed bcrypt hash"},
    {"$2y$", KIND_BCRYPT, 53, "malformed bcrypt hash"},
    {"$2a$", KIND_BCRYPT, 53, "malformed bcrypt hash"},
    {"$y$", KIND_YESCRYPT, 43, "malformed yescrypt hash"},
    {"$7$", KIND_SCRYPT, 43, "malformed scrypt hash"},
    {"$6$", KIND_SHA512, 86, "malformed sha512crypt hash"},
    {"$5$", KIND_SHA256, 43, "malformed sha256crypt hash"},
};

/* Formats refused by name, so the operator knows what to do. */
static const struct {
	const char *prefix;
	const char *why;
} password_refused[] = {
    {"$1$", "MD5-crypt hashes are not accepted"},
    {"$apr1$", "Apache MD5 (apr1) hashes are not accepted"},
    {"{SHA}", "{SHA} hashes are not accepted"},
    {"{SSHA}", "{SSHA} hashes are not accepted"},
    {"$argon2d$", "argon2d hashes are not accepted (use argon2id)"},
    {"$2x$", "bcrypt $2x$ hashes are not accepted"},
    {"$md5", "SunMD5 hashes are not accepted"},
    {"$gy$", "gost-yescrypt hashes are not accepted"},
    {"$3$", "NT hashes are not accepted"},
};

#define PASSWORD_ARGON2_MIN_LEN 16

static const char crypt_b64[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int
password_alg_parse(const char *name, enum password_alg *alg)
{
	static const char *const names[] = {
	    [PASSWORD_ARGON2ID] = "argon2id",
	    [PASSWORD_BCRYPT] = "bcrypt",
	    [PASSWORD_YESCRYPT] = "yescrypt",
	    [PASSWORD_SHA512CRYPT] = "sha512crypt",
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(name, names[i]) == 0) {
			*alg = (enum password_alg)i;
			return 0;
		}
	}
	return -1;
}

static const struct hash_format *
password_format(const char *hash)
{
	size_t i;

	for (i = 0; i < sizeof password_formats / sizeof password_formats[0];
	     i++) {
		if (strncmp(hash, password_formats[i].prefix,
		        strlen(password_formats[i].prefix)) == 0)
			return &password_formats[i];
	}
	return NULL;
}

/* Parse a decimal number of at most 10 digits; advance *s past it. */
static int
password_number(const char **s, unsigned long *out)
{
	const char   *p = *s;
	unsigned long v = 0;
	size_t        n = 0;

	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -1; /* no leading zeros, as libargon2 */
	for (; *p >= '0' && *p <= '9' && n < 10; p++, n++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (n == 0 || (*p >= '0' && *p <= '9') || v > UINT32_MAX)
		return -1;
	*s = p;
	*out = v;
	return 0;
}

/*
 * Unpadded standard base64 as libargon2 writes it: the alphabet, a length
 * that is not 1 mod 4, and zero unused bits. Returns the decoded length,
 * or 0 if malformed.
 */
static size_t
password_b64_len(const char *s, size_t n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *c;
	unsigned    last = 0;
	size_t      i;

	if (n == 0 || n % 4 == 1)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '\0' || (c = strchr(alphabet, s[i])) == NULL)
			return 0;
		last = (unsigned)(c - alphabet);
	}
	if ((n % 4 == 2 && (last & 0x0f) != 0) ||
	    (n % 4 == 3 && (last & 0x03) != 0))
		return 0;
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

struct argon2_params {
	argon2_type   type;
	unsigned long version, m, t, p;
	size_t params_len; /* up to and including the '$' before the salt */
	size_t saltlen, hashlen;
};

/* $argon2id$v=19$m=65536,t=3,p=1$SALT$HASH, as libargon2 encodes it. */
static int
password_argon2_parse(const char *hash, struct argon2_params *ap)
{
	const char *s, *salt, *dollar;

	memset(ap, 0, sizeof *ap);
	if (strncmp(hash, "$argon2id$", 10) == 0) {
		ap->type = Argon2_id;
		s = hash + 10;
	} else if (strncmp(hash, "$argon2i$", 9) == 0) {
		ap->type = Argon2_i;
		s = hash + 9;
	} else
		return -1;
	ap->version = ARGON2_VERSION_10;
	if (strncmp(s, "v=", 2) == 0) {
		s += 2;
		if (password_number(&s, &ap->version) == -1 || *s++ != '$')
			return -1;
		if (ap->version != ARGON2_VERSION_10 &&
		    ap->version != ARGON2_VERSION_13)
			return -1;
	}
	if (strncmp(s, "m=", 2) != 0)
		return -1;
	s += 2;
	if (password_number(&s, &ap->m) == -1 || strncmp(s, ",t=", 3) != 0)
		return -1;
	s += 3;
	if (password_number(&s, &ap->t) == -1 || strncmp(s, ",p=", 3) != 0)
		return -1;
	s += 3;
	if (password_number(&s, &ap->p) == -1 || *s++ != '$')
		return -1;
	ap->params_len = (size_t)(s - hash);
	salt = s;
	if ((dollar = strchr(salt, '$')) == NULL)
		return -1;
	ap->saltlen = password_b64_len(salt, (size_t)(dollar - salt));
	ap->hashlen = password_b64_len(dollar + 1, strlen(dollar + 1));
	/*
	 * libargon2 takes digests from 4 bytes, so a truncated hash would
	 * still parse and never match; every encoder in use writes 16 or 32.
	 */
	if (ap->saltlen < ARGON2_MIN_SALT_LENGTH ||
	    ap->hashlen < PASSWORD_ARGON2_MIN_LEN)
		return -1;
	if (ap->t < ARGON2_MIN_TIME || ap->p < ARGON2_MIN_LANES ||
	    ap->p > ARGON2_MAX_LANES || ap->m < 8 * ap->p)
		return -1;
	return 0;
}

/* $6$[rounds=N$]SALT$DIGEST: rounds as libxcrypt accepts them. */
static int
password_shacrypt_check(const char *hash)
{
	const char   *s = hash + 3;
	unsigned long rounds;

	if (strncmp(s, "rounds=", 7) == 0) {
		s += 7;
		if (password_number(&s, &rounds) == -1 || *s != '$' ||
		    rounds < 1000 || rounds > 999999999)
			return -1;
		s++;
	}
	/* the salt: 1 to 16 characters up to the digest's '$' */
	if (strchr(s, '$') == NULL || strchr(s, '$') == s ||
	    strchr(s, '$') - s > 16)
		return -1;
	return 0;
}

static int
password_crypt_check(const char *hash, const struct hash_format *f)
{
	const char *digest = strrchr(hash, '$') + 1;
	int         rc;

	if (digest - 1 < hash + strlen(f->prefix) ||
	    strlen(digest) != f->digest ||
	    strspn(digest, crypt_b64) != f->digest)
		return -1;
	switch (f->kind) {
	case KIND_BCRYPT:
		/* $2b$NN$ + 53: cost 04 to 31 */
		if (strlen(hash) != 60 || hash[6] != '$' || hash[4] < '0' ||
		    hash[4] > '3' || hash[5] < '0' || hash[5] > '9' ||
		    (hash[4] - '0') * 10 + (hash[5] - '0') < 4 ||
		    (hash[4] - '0') * 10 + (hash[5] - '0') > 31)
			return -1;
		break;
	case KIND_SHA512:
	case KIND_SHA256:
		if (password_shacrypt_check(hash) == -1)
			return -1;
		break;
	case KIND_YESCRYPT:
		/* $y$PARAMS$SALT$DIGEST */
		if (strchr(hash + 3, '$') == hash + 3 ||
		    strchr(strchr(hash + 3, '$') + 1, '$') != digest - 1)
			return -1;
		break;
	case KIND_SCRYPT:
		/* $7$ N(1) r(5) p(5) SALT $DIGEST */
		if (digest - hash < 3 + 11 + 2 ||
		    strchr(hash + 3, '$') != digest - 1)
			return -1;
		break;
	default: return -1;
	}
	/*
	 * Debian's libxcrypt reports sha256crypt as "legacy"; it is still in
	 * the accepted list of the contract.
	 */
	rc = crypt_checksalt(hash);
	if (rc != CRYPT_SALT_OK && rc != CRYPT_SALT_METHOD_LEGACY)
		return -1;
	return 0;
}

int
password_check_format(const char *hash, const char **why)
{
	const struct hash_format *f;
	struct argon2_params      ap;
	size_t                    i;

	if (hash == NULL || *hash == '\0') {
		*why = "empty password hash";
		return -1;
	}
	for (i = 0; i < sizeof password_refused / sizeof password_refused[0];
	     i++) {
		if (strncmp(hash, password_refused[i].prefix,
		        strlen(password_refused[i].prefix)) == 0) {
			*why = password_refused[i].why;
			return -1;
		}
	}
	if ((f = password_format(hash)) == NULL) {
		*why = hash[0] == '$' || hash[0] == '{'
		    ? "unsupported hash format"
		    : "not a password hash (plain-text passwords are not accepted)";
		return -1;
	}
	if (f->kind == KIND_ARGON2ID || f->kind == KIND_ARGON2I) {
		if (password_argon2_parse(hash, &ap) == -1) {
			*why = f->malformed;
			return -1;
		}
		return 0;
	}
	if (password_crypt_check(hash, f) == -1) {
		*why = f->malformed;
		return -1;
	}
	return 0;
}

size_t
password_params_len(const char *hash)
{
	const struct hash_format *f;
	struct argon2_params      ap;
	const char               *why, *p;

	if (password_check_format(hash, &why) == -1)
		return 0;
	f = password_format(hash);
	switch (f->kind) {
	case KIND_ARGON2ID:
	case KIND_ARGON2I:
		password_argon2_parse(hash, &ap);
		return ap.params_len;
	case KIND_BCRYPT: return 7;
	case KIND_YESCRYPT: return (size_t)(strchr(hash + 3, '$') + 1 - hash);
	case KIND_SCRYPT: return 3 + 11;
	case KIND_SHA512:
	case KIND_SHA256:
		if (strncmp(hash + 3, "rounds=", 7) != 0)
			return 3;
		p = strchr(hash + 3, '$');
		return (size_t)(p + 1 - hash);
	}
	return 0;
}

static int
password_crypt_verify(const char *hash, const char *password)
{
	struct crypt_data *data;
	const char        *r;
	size_t             len = strlen(hash);
	int                rc = -1;

	data = xcalloc(1, sizeof *data);
	r = crypt_rn(password, hash, data, sizeof *data);
	if (r == NULL || r[0] == '*')
		goto out;
	if (strlen(r) != len) {
		rc = 0;
		goto out;
	}
	rc = CRYPTO_memcmp(r, hash, len) == 0;
out:
	OPENSSL_cleanse(data, sizeof *data);
	free(data);
	return rc;
}

int
password_verify(const char *hash, const char *password)
{
	const struct hash_format *f;
	const char               *why;
	size_t                    len;
	int                       rc;

	if (hash == NULL || password == NULL ||
	    password_check_format(hash, &why) == -1)
		return -1;
	if ((len = strlen(password)) > PASSWORD_MAX)
		return 0;
	f = password_format(hash);
	if (f->kind == KIND_ARGON2ID || f->kind == KIND_ARGON2I) {
		/* libargon2 compares the digests in constant time */
		rc = argon2_verify(hash, password, len,
		    f->kind == KIND_ARGON2ID ? Argon2_id : Argon2_i);
		if (rc == ARGON2_OK)
			return 1;
		return rc == ARGON2_VERIFY_MISMATCH ? 0 : -1;
	}
	/* libxcrypt hashes no longer passphrase: it cannot be this one. */
	if (len >= CRYPT_MAX_PASSPHRASE_SIZE)
		return 0;
	return password_crypt_verify(hash, password);
}

/*
 * The dummy: any well-formed hash with the default parameters costs a full
 * verification; its digest is arbitrary and never matched on purpose.
 */
static char           password_dummy[160];
static pthread_once_t password_dummy_once = PTHREAD_ONCE_INIT;

static void
password_dummy_init(void)
{
	snprintf(password_dummy, sizeof password_dummy,
	    "$argon2id$v=19$m=%d,t=%d,p=%d$"
	    "and0Z2F0ZS1kdW1teS1zYWx0"
	    "$SSN0eyYKGB/pEb69fJmPGbTh9W3HvZMB4X9rkBnPIZw",
	    PASSWORD_ARGON2_M_KIB, PASSWORD_ARGON2_T, PASSWORD_ARGON2_P);
}

const char *
password_dummy_hash(void)
{
	pthread_once(&password_dummy_once, password_dummy_init);
	return password_dummy;
}

void
password_dummy_verify(const char *password)
{
	(void)password_verify(password_dummy_hash(),
	    password != NULL ? password : "");
}

static int
password_random(unsigned char *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

static int
password_argon2_new(argon2_type type, unsigned long version, uint32_t t,
    uint32_t m, uint32_t p, size_t saltlen, size_t hashlen,
    const char *password, char **out)
{
	unsigned char salt[64];
	size_t        enclen;
	char         *enc;
	int           rc;

	if (saltlen > sizeof salt || password_random(salt, saltlen) == -1)
		return -1;
	enclen = argon2_encodedlen(t, m, p, (uint32_t)saltlen,
	    (uint32_t)hashlen, type);
	enc = xmalloc(enclen);
	rc = argon2_hash(t, m, p, password, strlen(password), salt, saltlen,
	    NULL, hashlen, enc, enclen, type, (argon2_version)version);
	if (rc != ARGON2_OK) {
		free(enc);
		return -1;
	}
	*out = enc;
	return 0;
}

static int
password_crypt_new(const char *prefix, unsigned long count,
    const char *password, char **out)
{
	char               setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char        *r;
	int                rc = -1;

	if (crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof setting) ==
	    NULL)
		return -1;
	data = xcalloc(1, sizeof *data);
	r = crypt_rn(password, setting, data, sizeof *data);
	if (r == NULL || r[0] == '*')
		goto out;
	*out = xstrdup(r);
	rc = 0;
out:
	OPENSSL_cleanse(data, sizeof *data);
	free(data);
	return rc;
}

int
password_hash(enum password_alg alg, const char *password, char **out,
    const char **why)
{
	const char *fmtwhy;
	int         rc = -1;

	*out = NULL;
	if (*password == '\0') {
		*why = "empty password";
		return -2;
	}
	if (strlen(password) > PASSWORD_MAX) {
		*why = "password too long";
		return -2;
	}
	if (alg != PASSWORD_ARGON2ID && alg != PASSWORD_BCRYPT &&
	    strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
		*why = "password too long for yescrypt and sha512crypt (at "
		       "most 511 bytes); use argon2id";
		return -2;
	}
	switch (alg) {
	case PASSWORD_ARGON2ID:
		rc = password_argon2_new(Argon2_id, ARGON2_VERSION_13,
		    PASSWORD_ARGON2_T, PASSWORD_ARGON2_M_KIB, PASSWORD_ARGON2_P,
		    PASSWORD_ARGON2_SALT, PASSWORD_ARGON2_LEN, password, out);
		break;
	case PASSWORD_BCRYPT:
		if (strlen(password) > PASSWORD_BCRYPT_MAX) {
			*why = "bcrypt uses only the first 72 bytes of a "
			       "password; use argon2id";
			return -2;
		}
		rc = password_crypt_new("$2b$", PASSWORD_BCRYPT_COST, password,
		    out);
		break;
	case PASSWORD_YESCRYPT:
		rc = password_crypt_new("$y$", 0, password, out);
		break;
	case PASSWORD_SHA512CRYPT:
		rc = password_crypt_new("$6$", PASSWORD_SHA512_ROUNDS, password,
		    out);
		break;
	}
	if (rc == -1) {
		*why = "hashing failed";
		return -1;
	}
	if (password_check_format(*out, &fmtwhy) == -1) {
		/* our own output must load again */
		free(*out);
		*out = NULL;
		*why = fmtwhy;
		return -1;
	}
	return 0;
}

int
password_hash_like(const char *like, char **out, const char **why)
{
	unsigned char        raw[16];
	char                 password[33];
	struct argon2_params ap;
	struct crypt_data   *data;
	const char          *r;
	size_t               i;
	int                  rc = -1;

	*out = NULL;
	if (password_check_format(like, why) == -1)
		return -1;
	if (password_random(raw, sizeof raw) == -1) {
		*why = "no randomness";
		return -1;
	}
	for (i = 0; i < sizeof raw; i++)
		snprintf(password + 2 * i, 3, "%02x", raw[i]);
	if (password_argon2_parse(like, &ap) == 0) {
		rc = password_argon2_new(ap.type, ap.version, (uint32_t)ap.t,
		    (uint32_t)ap.m, (uint32_t)ap.p, ap.saltlen, ap.hashlen,
		    password, out);
		if (rc == -1)
			*why = "hash parameters rejected by libargon2";
		goto out;
	}
	/* crypt() reads only the setting (format, parameters, salt) of like */
	data = xcalloc(1, sizeof *data);
	r = crypt_rn(password, like, data, sizeof *data);
	if (r != NULL && r[0] != '*') {
		*out = xstrdup(r);
		rc = 0;
	} else
		*why = "hash parameters rejected by libcrypt";
	OPENSSL_cleanse(data, sizeof *data);
	free(data);
out:
	OPENSSL_cleanse(password, sizeof password);
	return rc;
}

void
password_free(char *password)
{
	if (password == NULL)
		return;
	OPENSSL_cleanse(password, strlen(password));
	free(password);
}

/*
 * One line into buf (size PASSWORD_MAX + 3: the password, CR LF, NUL),
 * its LF or CR LF removed. -1: end of input before any byte; -2: too long;
 * -3: a NUL byte in it. The rest of a refused line is read and dropped.
 */
static int
password_read_line(FILE *in, char *buf, size_t size)
{
	size_t len = 0;
	bool   got = false;
	int    c, rc = 0;

	while ((c = getc(in)) != EOF) {
		got = true;
		if (c == '\n')
			break;
		if (c == '\0')
			rc = -3;
		else if (len + 1 < size)
			buf[len++] = (char)c;
		else if (rc == 0)
			rc = -2;
	}
	buf[len] = '\0';
	if (!got)
		return -1;
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (rc == 0 && len > PASSWORD_MAX)
		rc = -2;
	return rc;
}

static int
password_prompt(FILE *in, const char *prompt, char *buf, size_t size)
{
	struct termios saved, quiet;
	int            fd = fileno(in), rc;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(fd, &saved) == -1)
		return -1;
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) == -1)
		return -1;
	rc = password_read_line(in, buf, size);
	(void)tcsetattr(fd, TCSAFLUSH, &saved);
	fputc('\n', stderr);
	return rc;
}

int
password_read_new(FILE *in, char **out, const char **why)
{
	char first[PASSWORD_MAX + 3], again[PASSWORD_MAX + 3];
	bool tty = isatty(fileno(in));
	int  rc = -1, r;

	*out = NULL;
	if (tty)
		r = password_prompt(in, "Password: ", first, sizeof first);
	else
		r = password_read_line(in, first, sizeof first);
	if (r == -2) {
		*why = "password too long";
		goto out;
	}
	if (r == -3) {
		*why = "password contains a NUL byte";
		goto out;
	}
	if (r == -1) {
		*why = "no password given";
		goto out;
	}
	if (first[0] == '\0') {
		*why = "empty password";
		goto out;
	}
	/* One password: a second line is a mistake, not something to drop. */
	if (!tty && getc(in) != EOF) {
		*why = "more than one line on standard input";
		goto out;
	}
	if (tty) {
		r = password_prompt(in, "Retype password: ", again,
		    sizeof again);
		if (r != 0 || strcmp(first, again) != 0) {
			*why = "passwords do not match";
			goto out;
		}
	}
	*out = xstrdup(first);
	rc = 0;
out:
	OPENSSL_cleanse(first, sizeof first);
	OPENSSL_cleanse(again, sizeof again);
	return rc;
}
