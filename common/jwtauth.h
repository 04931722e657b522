/*
 * jwtauth — verifies the JSON Web Token (RFC 7519) a client presents, with Debian's libjwt
 * 1.10 doing the cryptography, and returns the claims the relay acts on.
 *
 *     struct jwtauth_config c = {.secret = "...32 bytes or more...", .leeway_s = 30};
 *     struct jwtauth *a = jwtauth_new(&c, err, sizeof err);       // once, at start-up
 *     ...
 *     struct jwtauth_claims cl;
 *     enum jwtauth_result r = jwtauth_verify(a, token, time(NULL), &cl, err, sizeof err);
 *     if (r != JWTAUTH_OK)      // refuse: jwtauth_result_name(r) is the code, err the text
 *     jwtauth_channel_allowed(&cl, "store-7")                       // may it join store-7?
 *     jwtauth_free(a);
 *
 * Keys: HS256 with a shared secret (at least 32 bytes, RFC 7518 section 3.2), or RS256 with
 * an RSA public key (PEM "BEGIN PUBLIC KEY", at least 2048 bits) from a file or a string.
 * Exactly one of secret / public_key_file / public_key_pem is set; it fixes the algorithm.
 *
 * What a token must be, in the order checked (the first failure is reported):
 *   - present (JWTAUTH_MISSING), at most JWTAUTH_TOKEN_MAX bytes, three canonical base64url
 *     parts without padding, a header and a payload that are JSON objects without duplicate
 *     keys, no "crit" header, "typ" absent or "JWT" (JWTAUTH_MALFORMED);
 *   - header "alg" equal to the configured algorithm: "none", HS256 for an RS256 relay (the
 *     public key used as an HMAC secret) and the reverse are refused (JWTAUTH_WRONG_ALG);
 *   - a valid signature (JWTAUTH_BAD_SIGNATURE);
 *   - "exp", "nbf", "iat" numbers when present; "sub" a string of at most JWTAUTH_SUB_MAX
 *     bytes; "channels" an array of at most JWTAUTH_CHANNELS_MAX channel names (as
 *     envelope_channel_valid: 1..64 of [A-Za-z0-9_.:-]) or "*"; "exp" present when require_exp
 * (JWTAUTH_BAD_CLAIMS);
 *   - now < exp + leeway (JWTAUTH_EXPIRED), now >= nbf - leeway (JWTAUTH_NOT_YET_VALID);
 *   - "iss" equal to the configured issuer when one is set (JWTAUTH_WRONG_ISSUER);
 *   - "aud" (a string, or an array of strings) containing the configured audience when one
 *     is set; a token carrying "aud" is refused by a verifier configured without one, as
 *     RFC 7519 section 4.1.3 requires (JWTAUTH_WRONG_AUDIENCE).
 *
 * Suggested answers (the caller decides): HTTP 401 at a websocket upgrade, a Socket.IO
 * CONNECT_ERROR {"message":"<text>","data":{"code":"<name>"}}, close code 4401 for a live
 * session, and a counter labelled with jwtauth_result_name().
 *
 * Threads: a struct jwtauth is immutable after jwtauth_new, so jwtauth_verify may run on any
 * number of threads at once; there is no global state.
 */
#ifndef RELAYLAB_JWTAUTH_H
#define RELAYLAB_JWTAUTH_H

#include <stddef.h>

#include "envelope.h"

#define JWTAUTH_TOKEN_MAX 8192 /* bytes of a token (libjwt 1.10 copies it onto the stack) */
#define JWTAUTH_SUB_MAX 128
#define JWTAUTH_CHANNELS_MAX 64
#define JWTAUTH_CHANNEL_MAX ENVELOPE_CHANNEL_MAX /* 64: the relay's channel names */
#define JWTAUTH_SECRET_MIN 32

enum jwtauth_result {
    JWTAUTH_OK = 0,
    JWTAUTH_MISSING,        /* "missing" */
    JWTAUTH_MALFORMED,      /* "malformed" */
    JWTAUTH_WRONG_ALG,      /* "wrong_alg" */
    JWTAUTH_BAD_SIGNATURE,  /* "bad_signature" */
    JWTAUTH_BAD_CLAIMS,     /* "bad_claims" */
    JWTAUTH_EXPIRED,        /* "expired" */
    JWTAUTH_NOT_YET_VALID,  /* "not_yet_valid" */
    JWTAUTH_WRONG_ISSUER,   /* "wrong_issuer" */
    JWTAUTH_WRONG_AUDIENCE, /* "wrong_audience" */
    JWTAUTH_INTERNAL,       /* "internal": out of memory */
};
#define JWTAUTH_RESULTS (JWTAUTH_INTERNAL + 1)

struct jwtauth_config {
    const char *secret;          /* HS256: the shared secret (>= JWTAUTH_SECRET_MIN bytes) */
    const char *public_key_file; /* RS256: path of a PEM public key */
    const char *public_key_pem;  /* RS256: the PEM text itself */
    long leeway_s;               /* clock skew allowed on exp and nbf, 0..3600 (30 is usual) */
    const char *issuer;          /* NULL = "iss" not checked */
    const char *audience;        /* NULL = tokens must carry no "aud" */
    int require_exp;             /* 1 = a token without "exp" is refused */
};

/* What a verified token grants. Caller storage; nothing to free. */
struct jwtauth_claims {
    char sub[JWTAUTH_SUB_MAX + 1]; /* "" when absent */
    long long exp;                 /* seconds since the epoch; 0 when absent */
    int any_channel;               /* "channels" contained "*" */
    size_t nchannels;              /* 0 (and any_channel 0) = broadcast only */
    char channels[JWTAUTH_CHANNELS_MAX][JWTAUTH_CHANNEL_MAX + 1];
};

struct jwtauth;

/*
 * Checks the configuration and loads the key (the key file is read once, here). Returns a
 * verifier (free with jwtauth_free) or NULL with a message in err: no key or two keys, a
 * short secret, an unreadable file, not an RSA public key in PEM, a key under 2048 bits,
 * a leeway out of range.
 */
struct jwtauth *jwtauth_new(const struct jwtauth_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Accepts NULL. */
void jwtauth_free(struct jwtauth *a);

/* "HS256" or "RS256". */
const char *jwtauth_alg(const struct jwtauth *a);

/*
 * Verifies token (NUL-terminated; NULL or "" is JWTAUTH_MISSING) at time now (seconds since
 * the epoch, usually time(NULL)). Returns JWTAUTH_OK and fills out, or another result with a
 * sentence in err (e.g. "token expired 75 s ago") and out zeroed. Never logs.
 */
enum jwtauth_result jwtauth_verify(const struct jwtauth *a, const char *token, long long now,
                                   struct jwtauth_claims *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The stable code of a result, e.g. "bad_signature"; "unknown" outside the enum. */
const char *jwtauth_result_name(enum jwtauth_result r);

/* 1 when the claims let the client join channel (listed, or "*"), else 0. */
int jwtauth_channel_allowed(const struct jwtauth_claims *c, const char *channel);

#endif
