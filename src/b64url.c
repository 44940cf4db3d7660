/*
 * b64url.c - strict base64url.
 *
 * OpenSSL's decoders are not used here on purpose: EVP_DecodeBlock() and the
 * BIO filter take the standard alphabet with padding and skip whitespace,
 * and libjwt 1.10's decoder (libb64) silently drops characters it does not
 * know. A verifier must instead refuse every non-canonical spelling, so the
 * decoder is a table lookup that fails on the first surprise.
 */
#include "b64url.h"

#include <stdint.h>

#include "xmalloc.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* XX: not in the alphabet. */
#define XX 0xff
/* clang-format off */
static const uint8_t b64url_value[256] = {
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  62,  XX,  XX,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  XX,  XX,  XX,  XX,  63,
	 XX,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
	 XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,  XX,
};
/* clang-format on */
#undef XX

long
b64url_decode(const char *in, size_t len, unsigned char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t               i, o = 0, full = len / 4 * 4, rest = len % 4;
	uint32_t             acc;
	uint8_t              v[4];

	if (rest == 1)
		return -1;
	for (i = 0; i < full; i += 4) {
		v[0] = b64url_value[p[i]];
		v[1] = b64url_value[p[i + 1]];
		v[2] = b64url_value[p[i + 2]];
		v[3] = b64url_value[p[i + 3]];
		if ((v[0] | v[1] | v[2] | v[3]) & 0xc0)
			return -1;
		acc = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | v[3];
		out[o++] = acc >> 16;
		out[o++] = acc >> 8 & 0xff;
		out[o++] = acc & 0xff;
	}
	if (rest == 0)
		return (long)o;

	v[0] = b64url_value[p[i]];
	v[1] = b64url_value[p[i + 1]];
	v[2] = rest == 3 ? b64url_value[p[i + 2]] : 0;
	if ((v[0] | v[1] | v[2]) & 0xc0)
		return -1;
	acc = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6;
	/* The bits past the last whole byte must be zero: one spelling only. */
	if (rest == 2 && (acc & 0xffff) != 0)
		return -1;
	if (rest == 3 && (acc & 0xff) != 0)
		return -1;
	out[o++] = acc >> 16;
	if (rest == 3)
		out[o++] = acc >> 8 & 0xff;
	return (long)o;
}

size_t
b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t   i, o = 0;
	uint32_t acc;

	for (i = 0; i + 3 <= len; i += 3) {
		acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64url_alphabet[acc >> 18];
		out[o++] = b64url_alphabet[acc >> 12 & 0x3f];
		out[o++] = b64url_alphabet[acc >> 6 & 0x3f];
		out[o++] = b64url_alphabet[acc & 0x3f];
	}
	if (len - i == 1) {
		acc = (uint32_t)in[i] << 16;
		out[o++] = b64url_alphabet[acc >> 18];
		out[o++] = b64url_alphabet[acc >> 12 & 0x3f];
	} else if (len - i == 2) {
		acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alphabet[acc >> 18];
		out[o++] = b64url_alphabet[acc >> 12 & 0x3f];
		out[o++] = b64url_alphabet[acc >> 6 & 0x3f];
	}
	out[o] = '\0';
	return o;
}

char *
b64url_encode_new(const unsigned char *in, size_t len)
{
	char *out = xmalloc(B64URL_ENCLEN(len) + 1);

	b64url_encode(in, len, out);
	return out;
}
