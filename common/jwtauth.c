#include "jwtauth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "jsonx.h"

#define JWTAUTH_KEY_FILE_MAX (64 * 1024)
#define JWTAUTH_RSA_MIN_BITS 2048
#define JWTAUTH_JSON_DEPTH 16

struct jwtauth {
    jwt_alg_t alg;
    unsigned char *key; /* the secret, or the PEM text; NUL-terminated */
    size_t key_len;
    long leeway_s;
    char *issuer, *audience; /* NULL = not configured */
    int require_exp;
};

static const char *const result_names[JWTAUTH_RESULTS] = {
    "ok",      "missing",       "malformed",    "wrong_alg",      "bad_signature", "bad_claims",
    "expired", "not_yet_valid", "wrong_issuer", "wrong_audience", "internal",
};

const char *jwtauth_result_name(enum jwtauth_result r)
{
    return (unsigned)r < JWTAUTH_RESULTS ? result_names[r] : "unknown";
}

const char *jwtauth_alg(const struct jwtauth *a)
{
    return a->alg == JWT_ALG_RS256 ? "RS256" : "HS256";
}

/* Reads at most JWTAUTH_KEY_FILE_MAX bytes of path. Returns a malloc'd NUL-terminated copy. */
static char *read_key_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read JWT public key file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(JWTAUTH_KEY_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, JWTAUTH_KEY_FILE_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (buf == NULL || bad || n > JWTAUTH_KEY_FILE_MAX) {
        snprintf(err, errlen, "cannot read JWT public key file '%s': %s", path,
                 buf == NULL ? "out of memory"
                 : bad       ? "read error"
                             : "larger than 64 KiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The same parse libjwt does at every verification (PEM_read_bio_PUBKEY), done once here so
 * that a wrong key is a start-up error rather than every token being a bad signature. */
static int check_rsa_pem(const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    int rc = -1;
    if (k == NULL)
        snprintf(err, errlen,
                 "JWT public key is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
    else if (EVP_PKEY_id(k) != EVP_PKEY_RSA)
        snprintf(err, errlen, "JWT public key is not an RSA key (RS256 needs one)");
    else if (EVP_PKEY_bits(k) < JWTAUTH_RSA_MIN_BITS)
        snprintf(err, errlen, "JWT public key has %d bits; RS256 needs at least %d",
                 EVP_PKEY_bits(k), JWTAUTH_RSA_MIN_BITS);
    else
        rc = 0;
    EVP_PKEY_free(k);
    BIO_free(b);
    return rc;
}

struct jwtauth *jwtauth_new(const struct jwtauth_config *c, char *err, size_t errlen)
{
    int nkeys = (c->secret != NULL) + (c->public_key_file != NULL) + (c->public_key_pem != NULL);
    if (nkeys != 1) {
        snprintf(err, errlen,
                 "JWT verification needs exactly one key: a secret (HS256) or a "
                 "public key (RS256), got %d",
                 nkeys);
        return NULL;
    }
    if (c->leeway_s < 0 || c->leeway_s > 3600) {
        snprintf(err, errlen, "JWT leeway must be 0-3600 seconds, got %ld", c->leeway_s);
        return NULL;
    }
    struct jwtauth *a = calloc(1, sizeof *a);
    if (a == NULL)
        goto oom;
    a->leeway_s = c->leeway_s;
    a->require_exp = c->require_exp;
    if ((c->issuer && (a->issuer = strdup(c->issuer)) == NULL) ||
        (c->audience && (a->audience = strdup(c->audience)) == NULL))
        goto oom;
    if (c->secret) {
        a->alg = JWT_ALG_HS256;
        a->key_len = strlen(c->secret);
        if (a->key_len < JWTAUTH_SECRET_MIN) {
            snprintf(err, errlen, "JWT secret has %zu bytes; HS256 needs at least %d", a->key_len,
                     JWTAUTH_SECRET_MIN);
            goto fail;
        }
        if ((a->key = (unsigned char *)strdup(c->secret)) == NULL)
            goto oom;
        return a;
    }
    a->alg = JWT_ALG_RS256;
    if (c->public_key_file) {
        a->key = (unsigned char *)read_key_file(c->public_key_file, &a->key_len, err, errlen);
        if (a->key == NULL)
            goto fail;
    } else {
        a->key_len = strlen(c->public_key_pem);
        if ((a->key = (unsigned char *)strdup(c->public_key_pem)) == NULL)
            goto oom;
    }
    if (check_rsa_pem((const char *)a->key, a->key_len, err, errlen) != 0)
        goto fail;
    return a;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    jwtauth_free(a);
    return NULL;
}

void jwtauth_free(struct jwtauth *a)
{
    if (a == NULL)
        return;
    if (a->key)
        memset(a->key, 0, a->key_len);
    free(a->key);
    free(a->issuer);
    free(a->audience);
    free(a);
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/*
 * Strict base64url (RFC 7515 section 2): the URL-safe alphabet, no padding, no length of the
 * form 4k+1, and zero bits after the last byte, so that one value has one encoding. out
 * holds at least n * 3 / 4 + 1 bytes. Returns the decoded length, or -1.
 */
static long b64url_decode(const char *s, size_t n, unsigned char *out)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1; /* non-canonical: leftover bits must be zero */
    return (long)o;
}

/* Decodes one part into a JSON object (caller decrefs) or NULL with a message. */
static json_t *decode_part(const char *what, const char *s, size_t n, char *err, size_t errlen)
{
    unsigned char buf[JWTAUTH_TOKEN_MAX];
    long len = b64url_decode(s, n, buf);
    if (len < 0) {
        snprintf(err, errlen, "token %s is not canonical base64url", what);
        return NULL;
    }
    char jerr[200];
    json_t *v = jsonx_parse((const char *)buf, (size_t)len, JWTAUTH_JSON_DEPTH, jerr, sizeof jerr);
    if (v == NULL) {
        snprintf(err, errlen, "token %s is not valid JSON: %s", what, jerr);
        return NULL;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen, "token %s must be a JSON object, got %s", what, jsonx_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

static enum jwtauth_result check_header(const struct jwtauth *a, json_t *h, char *err,
                                        size_t errlen)
{
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg)) {
        snprintf(err, errlen, "token header has no \"alg\" string");
        return JWTAUTH_MALFORMED;
    }
    if (json_object_get(h, "crit") != NULL) {
        snprintf(err, errlen, "token header has \"crit\" extensions, none are supported");
        return JWTAUTH_MALFORMED;
    }
    json_t *typ = json_object_get(h, "typ");
    if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
        snprintf(err, errlen, "token header \"typ\" must be \"JWT\"");
        return JWTAUTH_MALFORMED;
    }
    if (strcmp(json_string_value(alg), jwtauth_alg(a)) != 0) {
        snprintf(err, errlen, "token algorithm \"%.16s\" is not the configured %s",
                 json_string_value(alg), jwtauth_alg(a));
        return JWTAUTH_WRONG_ALG;
    }
    return JWTAUTH_OK;
}

/* Types and shapes of the registered claims and of "channels"; fills out. */
static enum jwtauth_result check_shapes(const struct jwtauth *a, json_t *p,
                                        struct jwtauth_claims *out, char *err, size_t errlen)
{
    static const char *const numeric[] = {"exp", "nbf", "iat"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(p, numeric[i]);
        if (v != NULL && !json_is_number(v)) {
            snprintf(err, errlen, "claim \"%s\" must be a number, got %s", numeric[i],
                     jsonx_type_name(v));
            return JWTAUTH_BAD_CLAIMS;
        }
    }
    if (a->require_exp && json_object_get(p, "exp") == NULL) {
        snprintf(err, errlen, "token has no \"exp\" claim and one is required");
        return JWTAUTH_BAD_CLAIMS;
    }
    json_t *sub = json_object_get(p, "sub");
    if (sub != NULL) {
        size_t n = json_is_string(sub) ? json_string_length(sub) : 0;
        const char *s = json_is_string(sub) ? json_string_value(sub) : "";
        int ok = json_is_string(sub) && n <= JWTAUTH_SUB_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
        if (!ok) {
            snprintf(err, errlen, "claim \"sub\" must be a string of at most %d printable bytes",
                     JWTAUTH_SUB_MAX);
            return JWTAUTH_BAD_CLAIMS;
        }
        memcpy(out->sub, s, n + 1);
    }
    json_t *ch = json_object_get(p, "channels");
    if (ch == NULL)
        return JWTAUTH_OK;
    /* "channels":"*" as well as ["*"]: the docs show the wildcard on its own. */
    if (json_is_string(ch) && strcmp(json_string_value(ch), "*") == 0 &&
        json_string_length(ch) == 1) {
        out->any_channel = 1;
        return JWTAUTH_OK;
    }
    if (!json_is_array(ch) || json_array_size(ch) > JWTAUTH_CHANNELS_MAX) {
        snprintf(err, errlen, "claim \"channels\" must be \"*\" or an array of at most %d names",
                 JWTAUTH_CHANNELS_MAX);
        return JWTAUTH_BAD_CLAIMS;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ch, i, v)
    {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (s != NULL && strcmp(s, "*") == 0 && n == 1) {
            out->any_channel = 1;
            continue;
        }
        if (s == NULL || !envelope_channel_valid(s, n)) {
            snprintf(err, errlen,
                     "claim \"channels\"[%zu] must be \"*\" or 1-%d characters of "
                     "[A-Za-z0-9_.:-]",
                     i, JWTAUTH_CHANNEL_MAX);
            return JWTAUTH_BAD_CLAIMS;
        }
        memcpy(out->channels[out->nchannels++], s, n + 1);
    }
    return JWTAUTH_OK;
}

static enum jwtauth_result check_time(const struct jwtauth *a, json_t *p, long long now,
                                      struct jwtauth_claims *out, char *err, size_t errlen)
{
    json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
    double t = (double)now, l = (double)a->leeway_s;
    if (exp != NULL) {
        double e = json_number_value(exp);
        if (t >= e + l) {
            snprintf(err, errlen, "token expired %.0f s ago", t - e);
            return JWTAUTH_EXPIRED;
        }
        out->exp = e > 9e18 ? (long long)9e18 : (long long)floor(e);
    }
    if (nbf != NULL) {
        double b = json_number_value(nbf);
        if (t < b - l) {
            snprintf(err, errlen, "token not valid for another %.0f s", b - t);
            return JWTAUTH_NOT_YET_VALID;
        }
    }
    return JWTAUTH_OK;
}

static enum jwtauth_result check_parties(const struct jwtauth *a, json_t *p, char *err,
                                         size_t errlen)
{
    if (a->issuer != NULL) {
        json_t *iss = json_object_get(p, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), a->issuer) != 0) {
            snprintf(err, errlen, "token issuer is not \"%.100s\"", a->issuer);
            return JWTAUTH_WRONG_ISSUER;
        }
    }
    json_t *aud = json_object_get(p, "aud");
    if (a->audience == NULL) {
        if (aud != NULL) {
            snprintf(err, errlen, "token is meant for an audience and none is configured");
            return JWTAUTH_WRONG_AUDIENCE;
        }
        return JWTAUTH_OK;
    }
    int found = json_is_string(aud) && strcmp(json_string_value(aud), a->audience) == 0;
    size_t i;
    json_t *v;
    if (json_is_array(aud))
        json_array_foreach(aud, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), a->audience) == 0)
                found = 1;
        }
    if (!found) {
        snprintf(err, errlen, "token audience does not include \"%.100s\"", a->audience);
        return JWTAUTH_WRONG_AUDIENCE;
    }
    return JWTAUTH_OK;
}

/* Splits token into three parts; the signature may be empty (judged after the algorithm). */
static int split(const char *token, size_t len, size_t off[3], size_t n[3])
{
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return -1;
    off[0] = 0;
    n[0] = (size_t)(d1 - token);
    off[1] = n[0] + 1;
    n[1] = (size_t)(d2 - d1 - 1);
    off[2] = (size_t)(d2 + 1 - token);
    n[2] = len - off[2];
    return n[0] > 0 && n[1] > 0 ? 0 : -1;
}

enum jwtauth_result jwtauth_verify(const struct jwtauth *a, const char *token, long long now,
                                   struct jwtauth_claims *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "%s", "");
    if (token == NULL || *token == '\0') {
        snprintf(err, errlen, "no token");
        return JWTAUTH_MISSING;
    }
    size_t len = strnlen(token, JWTAUTH_TOKEN_MAX + 1), off[3], n[3];
    if (len > JWTAUTH_TOKEN_MAX) {
        snprintf(err, errlen, "token longer than %d bytes", JWTAUTH_TOKEN_MAX);
        return JWTAUTH_MALFORMED;
    }
    if (split(token, len, off, n) != 0) {
        snprintf(err, errlen, "token is not three base64url parts separated by dots");
        return JWTAUTH_MALFORMED;
    }
    enum jwtauth_result r = JWTAUTH_MALFORMED;
    json_t *payload = NULL, *header = decode_part("header", token, n[0], err, errlen);
    if (header == NULL)
        goto out;
    if ((r = check_header(a, header, err, errlen)) != JWTAUTH_OK)
        goto out;
    r = JWTAUTH_MALFORMED;
    if ((payload = decode_part("payload", token + off[1], n[1], err, errlen)) == NULL)
        goto out;
    unsigned char sig[JWTAUTH_TOKEN_MAX];
    if (n[2] == 0 || b64url_decode(token + off[2], n[2], sig) < 0) {
        snprintf(err, errlen, "token signature is %s", n[2] ? "not canonical base64url" : "empty");
        r = n[2] ? JWTAUTH_MALFORMED : JWTAUTH_BAD_SIGNATURE;
        goto out;
    }
    /* libjwt checks the signature with the algorithm named in the header, which is ours. */
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, token, a->key, (int)a->key_len);
    jwt_free(j);
    if (rc != 0) {
        r = rc == ENOMEM ? JWTAUTH_INTERNAL : JWTAUTH_BAD_SIGNATURE;
        snprintf(err, errlen, "%s", rc == ENOMEM ? "out of memory" : "token signature is invalid");
        goto out;
    }
    if ((r = check_shapes(a, payload, out, err, errlen)) != JWTAUTH_OK ||
        (r = check_time(a, payload, now, out, err, errlen)) != JWTAUTH_OK ||
        (r = check_parties(a, payload, err, errlen)) != JWTAUTH_OK)
        goto out;
    r = JWTAUTH_OK;
out:
    json_decref(header);
    json_decref(payload);
    if (r != JWTAUTH_OK)
        memset(out, 0, sizeof *out);
    return r;
}

int jwtauth_channel_allowed(const struct jwtauth_claims *c, const char *channel)
{
    if (c->any_channel)
        return 1;
    for (size_t i = 0; i < c->nchannels; i++)
        if (strcmp(c->channels[i], channel) == 0)
            return 1;
    return 0;
}
