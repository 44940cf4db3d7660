/*
 * password.h - password hash formats: what the user file may hold, how a
 * password is checked against it in constant time, and how hash-password
 * makes new hashes. Nothing here ever logs or returns a password.
 */
#ifndef JWTGATE_PASSWORD_H
#define JWTGATE_PASSWORD_H

#include <stddef.h>
#include <stdio.h>

/*
 * argon2id defaults for new hashes and for the dummy hash of unknown users:
 * 64 MiB, 3 passes, 1 lane. This is RFC 9106's second recommended setting
 * (m=64 MiB, t=3) and three times the cost of OWASP's minimum (19 MiB,
 * t=2); it takes about 0.15 s on one core of a 2020s server. One lane,
 * because the hash pool already runs one verification per core: p > 1 would
 * make libargon2 start threads inside each worker for no gain in throughput.
 * Peak memory is hash_workers * 64 MiB.
 */
#define PASSWORD_ARGON2_M_KIB 65536
#define PASSWORD_ARGON2_T     3
#define PASSWORD_ARGON2_P     1
#define PASSWORD_ARGON2_SALT  16
#define PASSWORD_ARGON2_LEN   32

#define PASSWORD_BCRYPT_COST   12     /* OWASP: at least 10 */
#define PASSWORD_BCRYPT_MAX    72     /* bcrypt ignores what follows */
#define PASSWORD_SHA512_ROUNDS 500000 /* about as slow as bcrypt 12 */
/* yescrypt: libxcrypt's default cost, as Debian uses for /etc/shadow. */

/*
 * Longer passwords are refused before any hashing: sha-crypt costs grow with
 * the length, and nobody types a kilobyte. Known and unknown users are
 * refused the same way, so the cut-off tells nothing about the user.
 */
#define PASSWORD_MAX 1024

enum password_alg {
	PASSWORD_ARGON2ID = 0,
	PASSWORD_BCRYPT,
	PASSWORD_YESCRYPT,
	PASSWORD_SHA512CRYPT,
};

/* "argon2id", "bcrypt", "yescrypt", "sha512crypt" -> alg; -1 if unknown. */
int password_alg_parse(const char *name, enum password_alg *alg);

/*
 * 0 if hash is in an accepted format and well formed (complete digest,
 * valid characters, sane parameters), else -1 and *why says what is wrong,
 * without quoting the hash. Cheap: nothing is hashed.
 */
int password_check_format(const char *hash, const char **why);

/*
 * Length of the part of hash that fixes its cost (format and parameters,
 * before the salt), e.g. 7 for "$2b$12$...": hashes with equal prefixes
 * cost the same to verify. 0 if the format is not accepted.
 */
size_t password_params_len(const char *hash);

/* 1 match, 0 no match, -1 error (malformed hash, libcrypt failure). */
int password_verify(const char *hash, const char *password);

/*
 * Verify password against a fixed argon2id hash with the default
 * parameters and forget the result: what an unknown user costs.
 */
void password_dummy_verify(const char *password);

/* That fixed hash (well formed, matching no password on purpose). */
const char *password_dummy_hash(void);

/*
 * A new hash of password, in *out (free it). On failure *why, and -2 when
 * the password itself is refused (empty, too long for alg), -1 otherwise.
 */
int password_hash(enum password_alg alg, const char *password, char **out,
    const char **why);

/*
 * A hash of a random password with the same format and parameters as like,
 * so that verifying against it costs what verifying against like costs.
 * Also proves that libcrypt or libargon2 accepts like's parameters.
 */
int password_hash_like(const char *like, char **out, const char **why);

/*
 * Read a new password for hash-password: on a terminal, prompt twice on
 * stderr with echo off; otherwise read one line (CR LF or LF stripped).
 * *out is freed by password_free().
 */
int password_read_new(FILE *in, char **out, const char **why);

/* Wipe and free a password. */
void password_free(char *password);

#endif
