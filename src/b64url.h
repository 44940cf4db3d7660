/*
 * b64url.h - base64url without padding (RFC 7515 section 2), strict: the
 * decoder accepts only the canonical encoding, so one token has one spelling.
 */
#ifndef JWTGATE_B64URL_H
#define JWTGATE_B64URL_H

#include <stddef.h>

/* Bytes of the canonical encoding of n bytes: ceil(4n / 3). */
#define B64URL_ENCLEN(n) (((n)*4 + 2) / 3)

/* Largest output of b64url_decode() for len input characters. */
#define B64URL_DECLEN(len) ((len) / 4 * 3 + ((len) % 4 ? (len) % 4 - 1 : 0))

/*
 * Decode len characters into out (room for B64URL_DECLEN(len) bytes).
 * Returns the number of bytes written, or -1 unless the input is canonical:
 * only [A-Za-z0-9_-], no padding, len % 4 != 1, unused trailing bits zero.
 */
long b64url_decode(const char *in, size_t len, unsigned char *out);

/* Encode len bytes into out (room for B64URL_ENCLEN(len) + 1); NUL ends it. */
size_t b64url_encode(const unsigned char *in, size_t len, char *out);

/* The same, into a new string (xmalloc). */
char *b64url_encode_new(const unsigned char *in, size_t len);

#endif
