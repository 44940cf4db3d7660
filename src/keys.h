/*
 * keys.h - the keys of [token]: the active key that signs, the retired keys
 * that still verify, their kid, their public JWKS, one signature check per
 * key, and key generation for `jwtgate keygen`. Every key is parsed and
 * checked once at load; nothing here parses a key per request.
 */
#ifndef JWTGATE_KEYS_H
#define JWTGATE_KEYS_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"

struct keyring;
struct key;

/*
 * Load [token] secret_file or private_key_file (the active key, index 0)
 * and retired_key_files. On error returns -1 and adds to errs one
 * "FILE:LINE: [token] KEY: PATH: reason" per bad key; the reason never
 * contains the secret or its length.
 */
int  keys_load(const struct config *cfg, struct keyring **out,
     struct config_errors *errs);
void keys_free(struct keyring *ring);

/* {"keys": [public JWKs with kid, alg, use]}; {"keys": []} for HS*. New ref. */
json_t *keys_jwks(const struct keyring *ring);

/*
 * Write a new HMAC secret (text, newline-terminated) or PKCS#8 PEM private
 * key for alg to path (created with mode 0600, never overwritten) or, when
 * path is NULL, to standard output.
 */
int
keys_generate(enum token_alg alg, const char *path, char *err, size_t errlen);

/* "HS256" ... "ES512", exactly as in SPEC section 2; -1 for anything else. */
int keys_alg_parse(const char *name, enum token_alg *out);

/* Lookups for token.c. Index 0 is the active key. */
enum token_alg    keys_alg(const struct keyring *ring);
size_t            keys_count(const struct keyring *ring);
const struct key *keys_at(const struct keyring *ring, size_t i);
const struct key *
keys_find(const struct keyring *ring, const char *kid, size_t kidlen);
const char *keys_kid(const struct key *k);
size_t      keys_siglen(const struct key *k); /* bytes, fixed per key */

/*
 * Check sig over msg with k, by k's own algorithm: HMAC compared in constant
 * time, RSA PKCS#1 v1.5, or ECDSA with sig as the JWS R || S. Returns 1 for a
 * good signature, 0 for a bad one, -1 if the key cannot be used (a 5xx).
 */
int keys_verify(const struct key *k, const unsigned char *msg, size_t len,
    const unsigned char *sig, size_t siglen);

/*
 * What libjwt needs to sign with the active key: the secret (HS*) or the
 * private key as PKCS#8 PEM (RS*, ES*). Borrowed; lives as long as ring.
 */
void keys_signing_material(const struct keyring *ring,
    const unsigned char **material, size_t *len);

#endif
