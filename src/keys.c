/*
 * keys.c - loading, checking and publishing the keys of [token].
 *
 * Every key is read once, checked against the configured algorithm (HMAC
 * secret length, RSA size, EC curve), turned into what verification needs
 * (a keyed HMAC context to duplicate, or a public EVP_PKEY) and exercised
 * once, so a key OpenSSL cannot use fails the load instead of a request.
 * The keys are immutable afterwards and shared by every worker thread.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "b64url.h"
#include "log.h"
#include "xmalloc.h"

#define KEYS_FILE_MAX     (64 * 1024) /* no key or secret file is larger */
#define KEYS_RSA_MIN_BITS 2048
#define KEYS_SIG_MAX      1024 /* RSA-8192; checked at load */

enum key_kind { KIND_HMAC, KIND_RSA, KIND_EC };

/* What each algorithm of SPEC section 2 asks of its key. */
static const struct keys_alg_info {
	const char   *name;
	enum key_kind kind;
	const char   *md;          /* OpenSSL digest name */
	size_t        size;        /* HMAC: minimum secret; EC: field bytes */
	const char   *group;       /* EC: OpenSSL group name */
	const char   *crv;         /* EC: JWK curve name */
	int           keygen_bits; /* RSA: size `jwtgate keygen` makes */
} keys_algs[] = {
    [ALG_HS256] = {"HS256", KIND_HMAC, "SHA256", 32, NULL, NULL, 0},
    [ALG_HS384] = {"HS384", KIND_HMAC, "SHA384", 48, NULL, NULL, 0},
    [ALG_HS512] = {"HS512", KIND_HMAC, "SHA512", 64, NULL, NULL, 0},
    [ALG_RS256] = {"RS256", KIND_RSA, "SHA256", 0, NULL, NULL, 2048},
    [ALG_RS384] = {"RS384", KIND_RSA, "SHA384", 0, NULL, NULL, 3072},
    [ALG_RS512] = {"RS512", KIND_RSA, "SHA512", 0, NULL, NULL, 4096},
    [ALG_ES256] = {"ES256", KIND_EC, "SHA256", 32, "prime256v1", "P-256", 0},
    [ALG_ES384] = {"ES384", KIND_EC, "SHA384", 48, "secp384r1", "P-384", 0},
    [ALG_ES512] = {"ES512", KIND_EC, "SHA512", 66, "secp521r1", "P-521", 0},
};

struct key {
	char           kid[64];
	char          *file;
	enum key_kind  kind;
	size_t         siglen; /* bytes of every signature of this key */
	size_t         ecsize; /* EC: bytes of R and of S */
	const EVP_MD  *md;     /* the ring's, fetched once */
	EVP_MAC_CTX   *hmac;   /* HMAC: keyed once, duplicated per call */
	unsigned char *secret; /* HMAC */
	size_t         secretlen;
	EVP_PKEY      *pkey; /* RSA, EC: public key only */
	json_t        *jwk;  /* RSA, EC: public JWK with kid, alg, use */
};

struct keyring {
	enum token_alg alg;
	EVP_MD        *md;
	EVP_MAC       *mac;
	struct key    *keys; /* keys[0]: the active key */
	size_t         nkeys;
	char          *pem; /* RS, ES: active private key, PKCS#8 PEM */
	size_t         pemlen;
};

static const struct keys_alg_info *
keys_info(enum token_alg alg)
{
	if ((unsigned)alg >= sizeof(keys_algs) / sizeof(keys_algs[0]))
		return NULL;
	return &keys_algs[alg];
}

/* The reason OpenSSL gives for its last failure, without clearing others. */
static const char *
keys_ossl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r != NULL ? r : "unknown OpenSSL error";
}

/*
 * Read a whole key file. The buffer is one byte longer than the data and
 * NUL-terminated; callers wipe it with OPENSSL_cleanse before freeing.
 */
static int
keys_read_file(const char *path, unsigned char **out, size_t *outlen, char *err,
    size_t errlen)
{
	struct stat    st;
	unsigned char *buf = NULL;
	size_t         len = 0;
	ssize_t        n;
	int            fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > KEYS_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes, not a key",
		    path, KEYS_FILE_MAX);
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path,
			    n == 0 ? "file shrank while read"
			           : strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	/* Secrets and private keys only: a public key may be read by all. */
	if ((st.st_mode & 077) != 0 &&
	    strstr((char *)buf, "-----BEGIN PUBLIC KEY-----") == NULL)
		log_warn("%s: readable by group or others; use mode 0600",
		    path);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	close(fd);
	return -1;
}

/* kid of a secret: the first 16 characters of base64url(SHA-256(secret)). */
static int
keys_hmac_kid(struct key *k)
{
	unsigned char digest[32];
	char          enc[B64URL_ENCLEN(32) + 1];

	if (EVP_Digest(k->secret, k->secretlen, digest, NULL, EVP_sha256(),
	        NULL) != 1)
		return -1;
	b64url_encode(digest, sizeof(digest), enc);
	memcpy(k->kid, enc, 16);
	k->kid[16] = '\0';
	return 0;
}

/*
 * Is this a key or certificate rather than a secret? An RSA or EC public
 * key is published (JWKS) and must never become an HMAC secret, or anyone
 * could sign tokens with it: PEM armour anywhere, or DER that OpenSSL reads
 * as a public key, a private key or a certificate, is refused.
 */
static bool
keys_is_key_material(const unsigned char *buf, size_t len)
{
	static const char    armour[] = "-----BEGIN";
	const unsigned char *p;
	EVP_PKEY            *pk;
	X509                *x;

	if (memmem(buf, len, armour, sizeof armour - 1) != NULL)
		return true;
	if (len > LONG_MAX)
		return false;
	p = buf;
	if ((pk = d2i_PUBKEY(NULL, &p, (long)len)) != NULL) {
		EVP_PKEY_free(pk);
		return true;
	}
	p = buf;
	if ((pk = d2i_AutoPrivateKey(NULL, &p, (long)len)) != NULL) {
		EVP_PKEY_free(pk);
		return true;
	}
	p = buf;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
		X509_free(x);
		return true;
	}
	ERR_clear_error();
	return false;
}

static int
keys_load_secret(struct keyring *ring, struct key *k, const char *path,
    char *err, size_t errlen)
{
	const struct keys_alg_info *info = keys_info(ring->alg);
	OSSL_PARAM                  params[2];
	unsigned char              *buf;
	size_t                      len, size;

	if (keys_read_file(path, &buf, &len, err, errlen) == -1)
		return -1;
	size = len;
	if (keys_is_key_material(buf, len)) {
		snprintf(err, errlen,
		    "%s: a key (PEM or DER), not an HMAC secret: %s uses "
		    "a random secret (jwtgate keygen -a %s)",
		    path, info->name, info->name);
		goto refuse;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len < info->size) {
		snprintf(err, errlen,
		    "%s: secret shorter than the %zu bytes "
		    "%s requires",
		    path, info->size, info->name);
		goto refuse;
	}
	k->kind = KIND_HMAC;
	k->secret = buf;
	k->secretlen = len;
	k->siglen = (size_t)EVP_MD_get_size(ring->md);
	if (keys_hmac_kid(k) == -1)
		goto ossl;
	if ((k->hmac = EVP_MAC_CTX_new(ring->mac)) == NULL)
		goto ossl;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)info->md, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(k->hmac, k->secret, k->secretlen, params) != 1)
		goto ossl;
	return 0;
ossl:
	snprintf(err, errlen, "%s: cannot use the secret: %s", path,
	    keys_ossl_reason());
	return -1;
refuse:
	OPENSSL_cleanse(buf, size);
	free(buf);
	return -1;
}

/* PEM callback: passphrases are not supported; note that one was asked. */
static int
keys_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	*(bool *)u = true;
	return -1;
}

/* A PEM public key, SubjectPublicKeyInfo or PKCS#1, or NULL. */
static EVP_PKEY *
keys_decode_public(const unsigned char *buf, size_t len)
{
	OSSL_DECODER_CTX    *dctx;
	EVP_PKEY            *pkey = NULL;
	const unsigned char *p = buf;
	size_t               left = len;

	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
	    EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	if (dctx == NULL)
		return NULL;
	if (OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	return pkey;
}

/* The public half of pkey, as a key of its own. */
static EVP_PKEY *
keys_public_part(EVP_PKEY *pkey)
{
	EVP_PKEY            *pub;
	unsigned char       *der = NULL;
	const unsigned char *p;
	int                  derlen;

	if ((derlen = i2d_PUBKEY(pkey, &der)) <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, derlen);
	OPENSSL_free(der);
	return pub;
}

/*
 * Parse a PEM private key or, when public_ok, a public key. Returns a
 * public-only EVP_PKEY; *priv gets the private key when the file held one
 * and priv is not NULL.
 */
static EVP_PKEY *
keys_parse_pem(const char *path, const unsigned char *buf, size_t len,
    bool public_ok, EVP_PKEY **priv, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL, *pub = NULL;
	BIO      *bio;
	bool      asked = false;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto ossl;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, keys_no_passphrase, &asked);
	BIO_free(bio);
	if (pkey == NULL && public_ok && !asked)
		pub = keys_decode_public(buf, len);
	ERR_clear_error();
	if (asked) {
		EVP_PKEY_free(pkey);
		snprintf(err, errlen,
		    "%s: the key is encrypted; passphrases "
		    "are not supported",
		    path);
		return NULL;
	}
	if (pkey == NULL && pub == NULL) {
		snprintf(err, errlen, "%s: no PEM %s found", path,
		    public_ok ? "private or public key" : "private key");
		return NULL;
	}
	if (pkey == NULL)
		return pub;
	if ((pub = keys_public_part(pkey)) == NULL)
		goto ossl;
	if (priv != NULL)
		*priv = pkey;
	else
		EVP_PKEY_free(pkey);
	return pub;
ossl:
	EVP_PKEY_free(pkey);
	snprintf(err, errlen, "%s: %s", path, keys_ossl_reason());
	return NULL;
}

/* base64url of a big number, big-endian, padded to pad bytes (0: minimal). */
static char *
keys_bn_b64(const EVP_PKEY *pkey, const char *param, size_t pad)
{
	BIGNUM        *bn = NULL;
	unsigned char *bin;
	char          *out = NULL;
	size_t         len;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return NULL;
	len = pad != 0 ? pad : (size_t)BN_num_bytes(bn);
	if (len == 0)
		len = 1;
	bin = xmalloc(len);
	if (BN_bn2binpad(bn, bin, (int)len) == (int)len)
		out = b64url_encode_new(bin, len);
	free(bin);
	BN_free(bn);
	return out;
}

/* kid = RFC 7638 thumbprint: base64url(SHA-256(canonical required members)). */
static int
keys_thumbprint(const char *canonical, char *kid, size_t kidlen)
{
	unsigned char digest[32];
	char          enc[B64URL_ENCLEN(32) + 1];

	if (EVP_Digest(canonical, strlen(canonical), digest, NULL, EVP_sha256(),
	        NULL) != 1)
		return -1;
	b64url_encode(digest, sizeof(digest), enc);
	snprintf(kid, kidlen, "%s", enc);
	return 0;
}

/* Fill k->kid and k->jwk from k->pkey. */
static int
keys_make_jwk(const struct keys_alg_info *info, struct key *k)
{
	char *a = NULL, *b = NULL, *canonical = NULL;
	int   rc = -1;

	if (k->kind == KIND_RSA) {
		a = keys_bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
		b = keys_bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
		if (a == NULL || b == NULL)
			goto out;
		xasprintf(&canonical,
		    "{\"e\":\"%s\",\"kty\":\"RSA\","
		    "\"n\":\"%s\"}",
		    a, b);
		if (keys_thumbprint(canonical, k->kid, sizeof(k->kid)) == -1)
			goto out;
		k->jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty",
		    "RSA", "n", b, "e", a, "kid", k->kid, "alg", info->name,
		    "use", "sig");
	} else {
		a = keys_bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, info->size);
		b = keys_bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, info->size);
		if (a == NULL || b == NULL)
			goto out;
		xasprintf(&canonical,
		    "{\"crv\":\"%s\",\"kty\":\"EC\","
		    "\"x\":\"%s\",\"y\":\"%s\"}",
		    info->crv, a, b);
		if (keys_thumbprint(canonical, k->kid, sizeof(k->kid)) == -1)
			goto out;
		k->jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty",
		    "EC", "crv", info->crv, "x", a, "y", b, "kid", k->kid,
		    "alg", info->name, "use", "sig");
	}
	if (k->jwk == NULL)
		goto out;
	rc = 0;
out:
	free(canonical);
	free(a);
	free(b);
	return rc;
}

/* Does pkey fit alg: RSA of at least 2048 bits, or EC on alg's curve? */
static int
keys_check_pkey(const struct keys_alg_info *info, EVP_PKEY *pkey,
    const char *path, char *err, size_t errlen)
{
	char   group[64];
	size_t glen;

	if (info->kind == KIND_RSA) {
		/* "RSA" only: an RSA-PSS key would sign with other padding. */
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			snprintf(err, errlen,
			    "%s: not an RSA key (%s needs "
			    "one)",
			    path, info->name);
			return -1;
		}
		if (EVP_PKEY_get_bits(pkey) < KEYS_RSA_MIN_BITS) {
			snprintf(err, errlen,
			    "%s: RSA key of %d bits; at "
			    "least %d are required",
			    path, EVP_PKEY_get_bits(pkey), KEYS_RSA_MIN_BITS);
			return -1;
		}
		if (EVP_PKEY_get_size(pkey) > KEYS_SIG_MAX) {
			snprintf(err, errlen,
			    "%s: RSA key larger than %d "
			    "bits",
			    path, KEYS_SIG_MAX * 8);
			return -1;
		}
		return 0;
	}
	if (!EVP_PKEY_is_a(pkey, "EC")) {
		snprintf(err, errlen, "%s: not an EC key (%s needs one on %s)",
		    path, info->name, info->crv);
		return -1;
	}
	if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
	    strcmp(group, info->group) != 0) {
		snprintf(err, errlen,
		    "%s: EC key not on curve %s, which %s "
		    "requires",
		    path, info->crv, info->name);
		return -1;
	}
	return 0;
}

/*
 * Exercise a loaded key once: a bad signature must come back as 0, not as
 * an error, and, for the active key, a fresh signature must verify. A key
 * OpenSSL cannot use thus fails the load, not a request.
 */
static int
keys_selftest(const struct key *k, EVP_PKEY *priv)
{
	static const unsigned char msg[] = "jwtgate key self-test";
	unsigned char              sig[2 * KEYS_SIG_MAX], *der = NULL;
	size_t                     derlen = 0;
	EVP_MD_CTX                *ctx = NULL;
	ECDSA_SIG                 *esig = NULL;
	const unsigned char       *p;
	const BIGNUM              *r, *s;
	int                        rc = -1;

	memset(sig, 0x5a, k->siglen);
	if (keys_verify(k, msg, sizeof(msg), sig, k->siglen) != 0)
		return -1;
	if (priv == NULL)
		return 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, k->md, NULL, priv) != 1 ||
	    EVP_DigestSign(ctx, NULL, &derlen, msg, sizeof(msg)) != 1)
		goto out;
	der = xmalloc(derlen);
	if (EVP_DigestSign(ctx, der, &derlen, msg, sizeof(msg)) != 1)
		goto out;
	if (k->kind == KIND_RSA) {
		if (derlen != k->siglen)
			goto out;
		memcpy(sig, der, derlen);
	} else {
		p = der;
		if ((esig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
			goto out;
		ECDSA_SIG_get0(esig, &r, &s);
		if (BN_bn2binpad(r, sig, (int)k->ecsize) < 0 ||
		    BN_bn2binpad(s, sig + k->ecsize, (int)k->ecsize) < 0)
			goto out;
	}
	if (keys_verify(k, msg, sizeof(msg), sig, k->siglen) == 1)
		rc = 0;
out:
	ECDSA_SIG_free(esig);
	free(der);
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int
keys_load_pem(struct keyring *ring, struct key *k, const char *path,
    bool active, char *err, size_t errlen)
{
	const struct keys_alg_info *info = keys_info(ring->alg);
	EVP_PKEY                   *priv = NULL;
	unsigned char              *buf;
	size_t                      len;
	BIO                        *bio = NULL;
	BUF_MEM                    *mem;
	int                         rc = -1;

	if (keys_read_file(path, &buf, &len, err, errlen) == -1)
		return -1;
	k->pkey = keys_parse_pem(path, buf, len, !active, active ? &priv : NULL,
	    err, errlen);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (k->pkey == NULL)
		goto out;
	if (keys_check_pkey(info, k->pkey, path, err, errlen) == -1)
		goto out;
	k->kind = info->kind;
	k->ecsize = info->size;
	k->siglen = info->kind == KIND_RSA ? (size_t)EVP_PKEY_get_size(k->pkey)
	                                   : 2 * info->size;
	if (keys_make_jwk(info, k) == -1 || keys_selftest(k, priv) == -1) {
		snprintf(err, errlen, "%s: the key cannot be used: %s", path,
		    keys_ossl_reason());
		goto out;
	}
	if (active) {
		/* libjwt reads PEM; give it one canonical PKCS#8 block. */
		if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
		    PEM_write_bio_PrivateKey(bio, priv, NULL, NULL, 0, NULL,
		        NULL) != 1) {
			snprintf(err, errlen, "%s: %s", path,
			    keys_ossl_reason());
			goto out;
		}
		BIO_get_mem_ptr(bio, &mem);
		ring->pemlen = mem->length;
		ring->pem = xmalloc(mem->length + 1);
		memcpy(ring->pem, mem->data, mem->length);
		ring->pem[mem->length] = '\0';
	}
	rc = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(priv);
	ERR_clear_error();
	return rc;
}

static void
keys_free_key(struct key *k)
{
	if (k->secret != NULL) {
		OPENSSL_cleanse(k->secret, k->secretlen);
		free(k->secret);
	}
	EVP_MAC_CTX_free(k->hmac);
	EVP_PKEY_free(k->pkey);
	json_decref(k->jwk);
	free(k->file);
}

void
keys_free(struct keyring *ring)
{
	size_t i;

	if (ring == NULL)
		return;
	for (i = ring->nkeys; i > 0; i--)
		keys_free_key(&ring->keys[i - 1]);
	free(ring->keys);
	if (ring->pem != NULL) {
		OPENSSL_cleanse(ring->pem, ring->pemlen);
		free(ring->pem);
	}
	EVP_MAC_free(ring->mac);
	EVP_MD_free(ring->md);
	free(ring);
}

static int
keys_load_one(struct keyring *ring, const char *path, bool active, char *err,
    size_t errlen)
{
	const struct keys_alg_info *info = keys_info(ring->alg);
	struct key                 *k = &ring->keys[ring->nkeys];
	size_t                      i;
	int                         rc;

	memset(k, 0, sizeof(*k));
	k->md = ring->md;
	k->file = xstrdup(path);
	if (info->kind == KIND_HMAC)
		rc = keys_load_secret(ring, k, path, err, errlen);
	else
		rc = keys_load_pem(ring, k, path, active, err, errlen);
	ring->nkeys++; /* freed with the ring even when half built */
	if (rc == -1)
		return -1;
	for (i = 0; i + 1 < ring->nkeys; i++) {
		if (strcmp(ring->keys[i].kid, k->kid) == 0) {
			snprintf(err, errlen, "%s: the same key as %s", path,
			    ring->keys[i].file);
			return -1;
		}
	}
	return 0;
}

/* One error, as "FILE:LINE: [token] KEY: why". */
static void
keys_error(struct config_errors *errs, const struct config *cfg,
    const char *key, const char *why)
{
	char where[PATH_MAX + 32];

	config_key_where(cfg, "token", key, where, sizeof where);
	config_error(errs, "%s[token] %s: %s", where, key, why);
}

int
keys_load(const struct config *cfg, struct keyring **out,
    struct config_errors *errs)
{
	const struct keys_alg_info *info = keys_info(cfg->token.algorithm);
	const char                 *active, *key;
	struct keyring             *ring;
	char                        err[PATH_MAX + 512];
	size_t                      i;
	bool                        failed = false;

	*out = NULL;
	if (info == NULL) {
		keys_error(errs, cfg, "algorithm", "unknown");
		return -1;
	}
	key = info->kind == KIND_HMAC ? "secret_file" : "private_key_file";
	active = info->kind == KIND_HMAC ? cfg->token.secret_file
	                                 : cfg->token.private_key_file;
	if (active == NULL) {
		snprintf(err, sizeof err, "required for %s", info->name);
		keys_error(errs, cfg, key, err);
		return -1;
	}
	ring = xcalloc(1, sizeof(*ring));
	ring->alg = cfg->token.algorithm;
	ring->keys =
	    xcalloc(1 + cfg->token.retired_key_files.n, sizeof(*ring->keys));
	ring->md = EVP_MD_fetch(NULL, info->md, NULL);
	if (info->kind == KIND_HMAC)
		ring->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (ring->md == NULL ||
	    (info->kind == KIND_HMAC && ring->mac == NULL)) {
		snprintf(err, sizeof err, "%s: OpenSSL lacks %s: %s",
		    info->name, info->md, keys_ossl_reason());
		keys_error(errs, cfg, "algorithm", err);
		ERR_clear_error();
		keys_free(ring);
		return -1;
	}
	/* Every key is tried, so that every bad one is reported. */
	if (keys_load_one(ring, active, true, err, sizeof err) == -1) {
		keys_error(errs, cfg, key, err);
		failed = true;
	}
	for (i = 0; i < cfg->token.retired_key_files.n; i++) {
		if (keys_load_one(ring, cfg->token.retired_key_files.v[i],
		        false, err, sizeof err) == -1) {
			keys_error(errs, cfg, "retired_key_files", err);
			failed = true;
		}
	}
	ERR_clear_error();
	if (failed) {
		keys_free(ring);
		return -1;
	}
	*out = ring;
	return 0;
}

json_t *
keys_jwks(const struct keyring *ring)
{
	json_t *keys = json_array();
	size_t  i;

	for (i = 0; i < ring->nkeys; i++) {
		if (ring->keys[i].jwk != NULL)
			json_array_append_new(keys,
			    json_deep_copy(ring->keys[i].jwk));
	}
	return json_pack("{s:o}", "keys", keys);
}

int
keys_alg_parse(const char *name, enum token_alg *out)
{
	size_t i;

	for (i = 0; i < sizeof(keys_algs) / sizeof(keys_algs[0]); i++) {
		if (strcmp(name, keys_algs[i].name) == 0) {
			*out = (enum token_alg)i;
			return 0;
		}
	}
	return -1;
}

enum token_alg
keys_alg(const struct keyring *ring)
{
	return ring->alg;
}

size_t
keys_count(const struct keyring *ring)
{
	return ring->nkeys;
}

const struct key *
keys_at(const struct keyring *ring, size_t i)
{
	return i < ring->nkeys ? &ring->keys[i] : NULL;
}

const struct key *
keys_find(const struct keyring *ring, const char *kid, size_t kidlen)
{
	size_t i;

	for (i = 0; i < ring->nkeys; i++) {
		if (strlen(ring->keys[i].kid) == kidlen &&
		    memcmp(ring->keys[i].kid, kid, kidlen) == 0)
			return &ring->keys[i];
	}
	return NULL;
}

const char *
keys_kid(const struct key *k)
{
	return k->kid;
}

size_t
keys_siglen(const struct key *k)
{
	return k->siglen;
}

void
keys_signing_material(const struct keyring *ring,
    const unsigned char **material, size_t *len)
{
	if (ring->keys[0].kind == KIND_HMAC) {
		*material = ring->keys[0].secret;
		*len = ring->keys[0].secretlen;
	} else {
		*material = (const unsigned char *)ring->pem;
		*len = ring->pemlen;
	}
}

static int
keys_verify_hmac(const struct key *k, const unsigned char *msg, size_t len,
    const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t        maclen = 0;
	EVP_MAC_CTX  *ctx;
	int           ok;

	/* The template holds the keyed inner and outer states: no rekeying. */
	if ((ctx = EVP_MAC_CTX_dup(k->hmac)) == NULL)
		return -1;
	ok = EVP_MAC_update(ctx, msg, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1;
	EVP_MAC_CTX_free(ctx);
	if (!ok || maclen != k->siglen)
		return -1;
	ok = siglen == maclen && CRYPTO_memcmp(mac, sig, maclen) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

/*
 * JWS carries ECDSA as fixed-width R || S (RFC 7518 3.4); OpenSSL wants
 * DER. R and S are taken as they are: OpenSSL refuses 0 and values >= n.
 * Both S and n - S verify (ECDSA is malleable); see token.c on why that is
 * accepted.
 */
static unsigned char *
keys_ecdsa_der(const struct key *k, const unsigned char *sig, int *derlen)
{
	ECDSA_SIG     *esig;
	BIGNUM        *r, *s;
	unsigned char *der = NULL;

	r = BN_bin2bn(sig, (int)k->ecsize, NULL);
	s = BN_bin2bn(sig + k->ecsize, (int)k->ecsize, NULL);
	if (r == NULL || s == NULL || (esig = ECDSA_SIG_new()) == NULL) {
		BN_free(r);
		BN_free(s);
		return NULL;
	}
	ECDSA_SIG_set0(esig, r, s);
	*derlen = i2d_ECDSA_SIG(esig, &der);
	ECDSA_SIG_free(esig);
	return *derlen > 0 ? der : NULL;
}

int
keys_verify(const struct key *k, const unsigned char *msg, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX    *ctx;
	unsigned char *der = NULL;
	int            derlen = 0, rc;

	if (siglen != k->siglen)
		return 0;
	if (k->kind == KIND_HMAC)
		return keys_verify_hmac(k, msg, len, sig, siglen);
	if (k->kind == KIND_EC) {
		if ((der = keys_ecdsa_der(k, sig, &derlen)) == NULL)
			return -1;
		sig = der;
		siglen = (size_t)derlen;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, k->md, NULL, k->pkey) != 1)
		rc = -1;
	else
		rc = EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	/* A bad signature leaves reasons on this thread's queue; drop them. */
	ERR_clear_error();
	return rc;
}

/* A new secret: base64url text of size random bytes, so it survives editors. */
static int
keys_generate_secret(const struct keys_alg_info *info, BIO *bio)
{
	unsigned char raw[64];
	char          text[B64URL_ENCLEN(64) + 2];
	size_t        n;
	int           rc = -1;

	if (RAND_bytes(raw, (int)info->size) != 1)
		goto out;
	n = b64url_encode(raw, info->size, text);
	text[n++] = '\n';
	if (BIO_write(bio, text, (int)n) == (int)n)
		rc = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

static int
keys_generate_pem(const struct keys_alg_info *info, BIO *bio)
{
	EVP_PKEY *pkey;
	int       rc;

	if (info->kind == KIND_RSA)
		pkey = EVP_RSA_gen((unsigned)info->keygen_bits);
	else
		pkey = EVP_EC_gen(info->crv);
	if (pkey == NULL)
		return -1;
	rc = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	EVP_PKEY_free(pkey);
	return rc == 1 ? 0 : -1;
}

static int
keys_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
keys_generate(enum token_alg alg, const char *path, char *err, size_t errlen)
{
	const struct keys_alg_info *info = keys_info(alg);
	const char                 *name = path != NULL ? path : "stdout";
	BIO                        *bio;
	BUF_MEM                    *mem;
	int                         fd = STDOUT_FILENO, rc = -1;

	if (info == NULL) {
		snprintf(err, errlen, "unknown algorithm");
		return -1;
	}
	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		snprintf(err, errlen, "%s", keys_ossl_reason());
		return -1;
	}
	if ((info->kind == KIND_HMAC ? keys_generate_secret(info, bio)
	                             : keys_generate_pem(info, bio)) == -1) {
		snprintf(err, errlen, "cannot generate a %s key: %s",
		    info->name, keys_ossl_reason());
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	/* O_EXCL: a key is never overwritten by accident. */
	if (path != NULL &&
	    (fd = open(path,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	        -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		goto out;
	}
	if ((path != NULL && fchmod(fd, 0600) == -1) ||
	    keys_write_all(fd, mem->data, mem->length) == -1 ||
	    (path != NULL && fsync(fd) == -1)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		if (path != NULL) {
			close(fd);
			unlink(path);
		}
		goto out;
	}
	if (path != NULL && close(fd) == -1) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		unlink(path);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}
