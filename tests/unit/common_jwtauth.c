/*
 * jwtauth: tokens made with libjwt (as an app would make them) are accepted and give their
 * claims; hand-built malformed and forged ones are each refused with their own code and a
 * message. The forgeries are signed properly where the check under test comes after the
 * signature (duplicate keys, claim shapes, times, audience), so that it is the check and not
 * the signature that refuses them.
 */
#include <check.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jwtauth.h"

#define SECRET "0123456789abcdef0123456789abcdef-relay"
#define NOW 1800000000LL

static char *rsa_priv, *rsa_pub;   /* the relay's key pair */
static char *evil_priv, *evil_pub; /* someone else's */
static char *small_pub, *ec_pub;   /* keys jwtauth_new must refuse */

/* PEM text of a key (public or private). Caller frees. */
static char *pem_of(EVP_PKEY *k, int private)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (private)
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(b, k);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = strndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

static void make_rsa(int bits, char **priv, char **pub)
{
    EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
    ck_assert_ptr_nonnull(k);
    if (priv)
        *priv = pem_of(k, 1);
    *pub = pem_of(k, 0);
    EVP_PKEY_free(k);
}

static void keys_setup(void)
{
    make_rsa(2048, &rsa_priv, &rsa_pub);
    make_rsa(2048, &evil_priv, &evil_pub);
    make_rsa(1024, NULL, &small_pub);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    ec_pub = pem_of(ec, 0);
    EVP_PKEY_free(ec);
}

static void keys_teardown(void)
{
    free(rsa_priv);
    free(rsa_pub);
    free(evil_priv);
    free(evil_pub);
    free(small_pub);
    free(ec_pub);
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* "<b64 header>.<b64 payload>" of raw strings (any bytes, not necessarily JSON). */
static char *signing_input(const char *header, size_t hlen, const char *payload, size_t plen)
{
    char *s = malloc(2 * (hlen + plen) + 8);
    b64url((const unsigned char *)header, hlen, s);
    strcat(s, ".");
    b64url((const unsigned char *)payload, plen, s + strlen(s));
    return s;
}

/* A token signed with HMAC-SHA256 under key (whatever the header says). Caller frees. */
static char *hs_raw(const char *header, size_t hlen, const char *payload, size_t plen,
                    const char *key)
{
    char *in = signing_input(header, hlen, payload, plen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mlen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)in, strlen(in), mac, &mlen);
    char *t = malloc(strlen(in) + 2 + mlen * 2);
    sprintf(t, "%s.", in);
    b64url(mac, mlen, t + strlen(t));
    free(in);
    return t;
}

static char *hs(const char *header, const char *payload, const char *key)
{
    return hs_raw(header, strlen(header), payload, strlen(payload), key);
}

/* A token signed RS256 with the private key PEM. Caller frees. */
static char *rs(const char *header, const char *payload, const char *priv_pem)
{
    char *in = signing_input(header, strlen(header), payload, strlen(payload));
    BIO *b = BIO_new_mem_buf(priv_pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t slen = sizeof sig;
    ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &slen, (unsigned char *)in, strlen(in)), 1);
    char *t = malloc(strlen(in) + 2 + slen * 2);
    sprintf(t, "%s.", in);
    b64url(sig, slen, t + strlen(t));
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    BIO_free(b);
    free(in);
    return t;
}

/* A token made by libjwt itself, as an application would. Caller frees. */
static char *libjwt_token(jwt_alg_t alg, const char *key, const char *grants_json)
{
    jwt_t *j = NULL;
    ck_assert_int_eq(jwt_new(&j), 0);
    ck_assert_int_eq(jwt_add_grants_json(j, grants_json), 0);
    ck_assert_int_eq(jwt_set_alg(j, alg, (const unsigned char *)key, (int)strlen(key)), 0);
    char *t = jwt_encode_str(j);
    ck_assert_ptr_nonnull(t);
    char *copy = strdup(t);
    free(t);
    jwt_free(j);
    return copy;
}

static struct jwtauth *hs_verifier(const char *aud, const char *iss, int require_exp)
{
    char err[256];
    struct jwtauth_config c = {.secret = SECRET,
                               .leeway_s = 30,
                               .audience = aud,
                               .issuer = iss,
                               .require_exp = require_exp};
    struct jwtauth *a = jwtauth_new(&c, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    return a;
}

static struct jwtauth *rs_verifier(void)
{
    char err[256];
    struct jwtauth_config c = {.public_key_pem = rsa_pub, .leeway_s = 30};
    struct jwtauth *a = jwtauth_new(&c, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    return a;
}

START_TEST(libjwt_tokens_accepted)
{
    struct jwtauth *h = hs_verifier(NULL, NULL, 1), *r = rs_verifier();
    struct jwtauth_claims cl;
    char err[256];
    char *t = libjwt_token(JWT_ALG_HS256, SECRET,
                           "{\"sub\":\"user-42\",\"exp\":1800000600,\"iat\":1800000000,"
                           "\"channels\":[\"store-7\",\"news.eu:1\"]}");
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    ck_assert_str_eq(cl.sub, "user-42");
    ck_assert_int_eq(cl.exp, 1800000600LL);
    ck_assert_uint_eq(cl.nchannels, 2);
    ck_assert_str_eq(cl.channels[1], "news.eu:1");
    ck_assert_int_eq(cl.any_channel, 0);
    ck_assert(jwtauth_channel_allowed(&cl, "store-7"));
    ck_assert(!jwtauth_channel_allowed(&cl, "store-8"));
    ck_assert_str_eq(jwtauth_alg(h), "HS256");
    free(t);

    t = libjwt_token(JWT_ALG_RS256, rsa_priv, "{\"sub\":\"rs\",\"channels\":[\"*\"]}");
    ck_assert_int_eq(jwtauth_verify(r, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    ck_assert_str_eq(cl.sub, "rs");
    ck_assert_int_eq(cl.any_channel, 1);
    ck_assert(jwtauth_channel_allowed(&cl, "anything"));
    ck_assert_str_eq(jwtauth_alg(r), "RS256");
    free(t);

    /* The wildcard on its own, as docs/protocol.md shows it, is the same grant. */
    t = libjwt_token(JWT_ALG_HS256, SECRET,
                     "{\"sub\":\"star\",\"exp\":1800000600,\"channels\":\"*\"}");
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    ck_assert_int_eq(cl.any_channel, 1);
    ck_assert_uint_eq(cl.nchannels, 0);
    ck_assert(jwtauth_channel_allowed(&cl, "store-7"));
    free(t);

    /* No channels claim: broadcast only. No sub: "". Real-number times. */
    t = hs("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", "{\"exp\":1800000000.5,\"nbf\":1.8e9}", SECRET);
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    ck_assert_uint_eq(cl.nchannels, 0);
    ck_assert_int_eq(cl.any_channel, 0);
    ck_assert_str_eq(cl.sub, "");
    ck_assert(!jwtauth_channel_allowed(&cl, "store-7"));
    free(t);
    jwtauth_free(h);
    jwtauth_free(r);
}
END_TEST

START_TEST(leeway_and_parties)
{
    struct jwtauth *h = hs_verifier(NULL, NULL, 0);
    struct jwtauth_claims cl;
    char err[256];
    /* 20 s past exp and 20 s before nbf are within the 30 s leeway; 31 s are not. */
    char *t = hs("{\"alg\":\"HS256\"}", "{\"exp\":1799999980,\"nbf\":1800000020}", SECRET);
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    free(t);
    t = hs("{\"alg\":\"HS256\"}", "{\"exp\":1799999970}", SECRET);
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_EXPIRED);
    ck_assert_str_eq(err, "token expired 30 s ago");
    free(t);
    jwtauth_free(h);

    h = hs_verifier("relay.example", "https://auth.example", 0);
    t = hs("{\"alg\":\"HS256\"}", "{\"aud\":\"relay.example\",\"iss\":\"https://auth.example\"}",
           SECRET);
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    free(t);
    t = hs("{\"alg\":\"HS256\"}",
           "{\"aud\":[\"other\",\"relay.example\"],\"iss\":\"https://auth.example\"}", SECRET);
    ck_assert_int_eq(jwtauth_verify(h, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    free(t);
    jwtauth_free(h);
}
END_TEST

struct bad {
    const char *name;
    char *token;  /* owned */
    int verifier; /* 0 = HS256 plain, 1 = RS256, 2 = HS256 with aud/iss/require_exp */
    enum jwtauth_result want;
};

static size_t add(struct bad *b, size_t n, const char *name, char *token, int verifier,
                  enum jwtauth_result want)
{
    b[n] = (struct bad){name, token, verifier, want};
    return n + 1;
}

/* Replaces the part-th part (0, 1, 2) of token by text. Returns a new string. */
static char *with_part(const char *token, int part, const char *text)
{
    char *t = malloc(strlen(token) + strlen(text) + 4);
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    if (part == 0)
        sprintf(t, "%s%s", text, d1);
    else if (part == 1)
        sprintf(t, "%.*s.%s%s", (int)(d1 - token), token, text, d2);
    else
        sprintf(t, "%.*s.%s", (int)(d2 - token), token, text);
    return t;
}

START_TEST(malformed_and_forged_tokens)
{
    struct jwtauth *v[3] = {hs_verifier(NULL, NULL, 0), rs_verifier(),
                            hs_verifier("relay.example", "https://auth.example", 1)};
    struct bad b[96];
    size_t n = 0;
    const char *H = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *good = hs(H, "{\"sub\":\"u\"}", SECRET);
    char *rs_good = rs("{\"alg\":\"RS256\"}", "{\"sub\":\"u\"}", rsa_priv);
    char big[JWTAUTH_TOKEN_MAX + 200];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *sig = strrchr(good, '.') + 1;

    /* Structure. */
    n = add(b, n, "null", NULL, 0, JWTAUTH_MISSING);
    n = add(b, n, "empty", strdup(""), 0, JWTAUTH_MISSING);
    n = add(b, n, "no_dots", strdup("eyJhbGciOiJIUzI1NiJ9"), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "two_parts", strdup("eyJhbGciOiJIUzI1NiJ9.e30"), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "four_parts", with_part(good, 2, "abc.def"), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "empty_header", with_part(good, 0, ""), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "empty_payload", with_part(good, 1, ""), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "too_long", strdup(big), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "bearer_prefix", NULL, 0, JWTAUTH_MALFORMED);
    b[n - 1].token = malloc(strlen(good) + 8);
    sprintf(b[n - 1].token, "Bearer %s", good);
    n = add(b, n, "trailing_newline", NULL, 0, JWTAUTH_MALFORMED);
    b[n - 1].token = malloc(strlen(good) + 2);
    sprintf(b[n - 1].token, "%s\n", good);
    n = add(b, n, "padded_header", with_part(good, 0, "eyJhbGciOiJIUzI1NiJ9=="), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "std_base64_header", with_part(good, 0, "eyJhbGciOiJIUzI1NiJ9+/"), 0,
            JWTAUTH_MALFORMED);
    /* "e30" is {}; "e31" decodes to the same byte with a stray bit set. */
    n = add(b, n, "noncanonical_payload", with_part(good, 1, "e31"), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "length_4k_plus_1", with_part(good, 1, "e30AA"), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "header_not_json", hs("hello", "{}", SECRET), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "header_array", hs("[\"HS256\"]", "{}", SECRET), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "header_trailing_garbage", hs("{\"alg\":\"HS256\"}x", "{}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "header_no_alg", hs("{\"typ\":\"JWT\"}", "{}", SECRET), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "header_alg_number", hs("{\"alg\":256}", "{}", SECRET), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "header_crit", hs("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "header_typ_other", hs("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", "{}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "header_dup_alg", hs("{\"alg\":\"none\",\"alg\":\"HS256\"}", "{}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "payload_not_json", hs(H, "sub=u", SECRET), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "payload_string", hs(H, "\"u\"", SECRET), 0, JWTAUTH_MALFORMED);
    n = add(b, n, "payload_dup_exp", hs(H, "{\"exp\":1,\"exp\":9999999999}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "payload_bad_utf8", hs(H, "{\"sub\":\"\xff\xfe\"}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "payload_escaped_nul", hs(H, "{\"sub\":\"a\\u0000b\"}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "payload_raw_nul", hs_raw(H, strlen(H), "{\"sub\":\"a\0\"}", 12, SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "payload_deep",
            hs(H, "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]}", SECRET), 0,
            JWTAUTH_MALFORMED);
    n = add(b, n, "signature_padded", NULL, 0, JWTAUTH_MALFORMED);
    b[n - 1].token = malloc(strlen(good) + 3);
    sprintf(b[n - 1].token, "%s=", good);

    /* Algorithm. */
    n = add(b, n, "alg_none_unsigned", with_part(good, 0, "eyJhbGciOiJub25lIn0"), 0,
            JWTAUTH_WRONG_ALG);
    b[n - 1].token[strrchr(b[n - 1].token, '.') - b[n - 1].token + 1] = '\0';
    n = add(b, n, "alg_none_signed", hs("{\"alg\":\"none\"}", "{}", SECRET), 0, JWTAUTH_WRONG_ALG);
    n = add(b, n, "alg_None_case", hs("{\"alg\":\"None\"}", "{}", SECRET), 0, JWTAUTH_WRONG_ALG);
    n = add(b, n, "alg_hs512", hs("{\"alg\":\"HS512\"}", "{}", SECRET), 0, JWTAUTH_WRONG_ALG);
    n = add(b, n, "alg_lowercase", hs("{\"alg\":\"hs256\"}", "{}", SECRET), 0, JWTAUTH_WRONG_ALG);
    /* The classic confusion: HS256 keyed with the relay's public key, sent to an RS256 relay. */
    n = add(b, n, "alg_confusion_hs_with_public_key", hs(H, "{\"sub\":\"admin\"}", rsa_pub), 1,
            JWTAUTH_WRONG_ALG);
    n = add(b, n, "rs256_to_hs_relay", strdup(rs_good), 0, JWTAUTH_WRONG_ALG);
    n = add(b, n, "es256_to_rs_relay", with_part(rs_good, 0, "eyJhbGciOiJFUzI1NiJ9"), 1,
            JWTAUTH_WRONG_ALG);

    /* Signature. */
    n = add(b, n, "wrong_secret", hs(H, "{\"sub\":\"u\"}", SECRET "x"), 0, JWTAUTH_BAD_SIGNATURE);
    n = add(b, n, "empty_signature", with_part(good, 2, ""), 0, JWTAUTH_BAD_SIGNATURE);
    n = add(b, n, "payload_swapped", with_part(good, 1, "eyJzdWIiOiJhZG1pbiJ9"), 0,
            JWTAUTH_BAD_SIGNATURE);
    char flipped[128];
    snprintf(flipped, sizeof flipped, "%s", sig);
    flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
    n = add(b, n, "signature_flipped", with_part(good, 2, flipped), 0, JWTAUTH_BAD_SIGNATURE);
    n = add(b, n, "signature_truncated", with_part(good, 2, "AAAA"), 0, JWTAUTH_BAD_SIGNATURE);
    n = add(b, n, "rs_signed_by_other_key", rs("{\"alg\":\"RS256\"}", "{\"sub\":\"u\"}", evil_priv),
            1, JWTAUTH_BAD_SIGNATURE);
    n = add(b, n, "rs_signature_of_hs", with_part(rs_good, 2, sig), 1, JWTAUTH_BAD_SIGNATURE);
    n = add(b, n, "secret_as_prefix", hs(H, "{}", "0123456789abcdef0123456789abcdef-rela"), 0,
            JWTAUTH_BAD_SIGNATURE);

    /* Claims: shapes, times, parties. */
    n = add(b, n, "exp_string", hs(H, "{\"exp\":\"9999999999\"}", SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "nbf_bool", hs(H, "{\"nbf\":true}", SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "iat_null", hs(H, "{\"iat\":null}", SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "sub_number", hs(H, "{\"sub\":42}", SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(
        b, n, "sub_too_long",
        hs(H,
           "{\"sub\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
           SECRET),
        0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "sub_control", hs(H, "{\"sub\":\"a\\nb\"}", SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "channels_string", hs(H, "{\"channels\":\"store-7\"}", SECRET), 0,
            JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "channels_number", hs(H, "{\"channels\":[7]}", SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "channels_space", hs(H, "{\"channels\":[\"store 7\"]}", SECRET), 0,
            JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "channels_empty_name", hs(H, "{\"channels\":[\"\"]}", SECRET), 0,
            JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "channels_star_prefix", hs(H, "{\"channels\":[\"*a\"]}", SECRET), 0,
            JWTAUTH_BAD_CLAIMS);
    char many[65 * 6 + 32] = "{\"channels\":[";
    for (int i = 0; i < 65; i++)
        sprintf(many + strlen(many), "%s\"c%d\"", i ? "," : "", i);
    strcat(many, "]}");
    n = add(b, n, "channels_65", hs(H, many, SECRET), 0, JWTAUTH_BAD_CLAIMS);
    char longname[128] = "{\"channels\":[\"";
    memset(longname + strlen(longname), 'c', 65);
    strcat(longname, "\"]}");
    n = add(b, n, "channel_name_65", hs(H, longname, SECRET), 0, JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "exp_required",
            hs(H, "{\"aud\":\"relay.example\",\"iss\":\"https://auth.example\"}", SECRET), 2,
            JWTAUTH_BAD_CLAIMS);
    n = add(b, n, "expired", hs(H, "{\"exp\":1799999900}", SECRET), 0, JWTAUTH_EXPIRED);
    n = add(b, n, "expired_negative", hs(H, "{\"exp\":-1e300}", SECRET), 0, JWTAUTH_EXPIRED);
    n = add(b, n, "not_yet_valid", hs(H, "{\"nbf\":1800000100}", SECRET), 0, JWTAUTH_NOT_YET_VALID);
    n = add(b, n, "not_yet_valid_huge", hs(H, "{\"nbf\":1e300}", SECRET), 0, JWTAUTH_NOT_YET_VALID);
    n = add(
        b, n, "wrong_issuer",
        hs(H, "{\"exp\":1900000000,\"aud\":\"relay.example\",\"iss\":\"https://evil\"}", SECRET), 2,
        JWTAUTH_WRONG_ISSUER);
    n = add(b, n, "missing_issuer", hs(H, "{\"exp\":1900000000,\"aud\":\"relay.example\"}", SECRET),
            2, JWTAUTH_WRONG_ISSUER);
    n = add(
        b, n, "wrong_audience",
        hs(H, "{\"exp\":1900000000,\"aud\":\"other\",\"iss\":\"https://auth.example\"}", SECRET), 2,
        JWTAUTH_WRONG_AUDIENCE);
    n = add(b, n, "audience_array_without",
            hs(H, "{\"exp\":1900000000,\"aud\":[\"a\",\"b\"],\"iss\":\"https://auth.example\"}",
               SECRET),
            2, JWTAUTH_WRONG_AUDIENCE);
    n = add(b, n, "audience_number",
            hs(H, "{\"exp\":1900000000,\"aud\":1,\"iss\":\"https://auth.example\"}", SECRET), 2,
            JWTAUTH_WRONG_AUDIENCE);
    n = add(b, n, "audience_unexpected", hs(H, "{\"aud\":\"relay.example\"}", SECRET), 0,
            JWTAUTH_WRONG_AUDIENCE);
    ck_assert_uint_le(n, sizeof b / sizeof b[0]);

    size_t refused = 0;
    for (size_t i = 0; i < n; i++) {
        struct jwtauth_claims cl;
        memset(&cl, 0x5a, sizeof cl);
        char err[256] = "unset";
        enum jwtauth_result r =
            jwtauth_verify(v[b[i].verifier], b[i].token, NOW, &cl, err, sizeof err);
        ck_assert_msg(r == b[i].want, "%s: got %s (%s), want %s", b[i].name, jwtauth_result_name(r),
                      err, jwtauth_result_name(b[i].want));
        ck_assert_msg(err[0] != '\0' && strcmp(err, "unset") != 0, "%s: no message", b[i].name);
        ck_assert_msg(cl.sub[0] == '\0' && cl.nchannels == 0 && cl.any_channel == 0,
                      "%s: claims not cleared", b[i].name);
        refused++;
        free(b[i].token);
    }
    ck_assert_uint_ge(refused, 60);
    free(good);
    free(rs_good);
    for (int i = 0; i < 3; i++)
        jwtauth_free(v[i]);
}
END_TEST

START_TEST(configuration_errors)
{
    char err[256];
    struct {
        struct jwtauth_config c;
        const char *msg;
    } cases[] = {
        {{.leeway_s = 30}, "exactly one key"},
        {{.secret = SECRET, .public_key_pem = "x"}, "exactly one key"},
        {{.secret = "short"}, "needs at least 32"},
        {{.public_key_file = "/nonexistent/key.pem"}, "cannot read JWT public key file"},
        {{.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"},
         "not a PEM public key"},
        {{.public_key_pem = NULL}, NULL}, /* filled below: the EC key */
        {{.public_key_pem = NULL}, NULL}, /* the 1024-bit RSA key */
        {{.secret = SECRET, .leeway_s = -1}, "leeway must be 0-3600"},
    };
    cases[5].c.public_key_pem = ec_pub;
    cases[5].msg = "not an RSA key";
    cases[6].c.public_key_pem = small_pub;
    cases[6].msg = "has 1024 bits";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        struct jwtauth *a = jwtauth_new(&cases[i].c, err, sizeof err);
        ck_assert_msg(a == NULL, "case %zu accepted", i);
        ck_assert_msg(strstr(err, cases[i].msg) != NULL, "case %zu: %s", i, err);
    }
    /* The key from a file works like the key from a string. */
    char path[] = "/tmp/jwtauth-test-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, rsa_pub, strlen(rsa_pub)), (ssize_t)strlen(rsa_pub));
    close(fd);
    struct jwtauth_config c = {.public_key_file = path};
    struct jwtauth *a = jwtauth_new(&c, err, sizeof err);
    unlink(path);
    ck_assert_msg(a != NULL, "%s", err);
    char *t = libjwt_token(JWT_ALG_RS256, rsa_priv, "{\"sub\":\"file\"}");
    struct jwtauth_claims cl;
    ck_assert_int_eq(jwtauth_verify(a, t, NOW, &cl, err, sizeof err), JWTAUTH_OK);
    free(t);
    jwtauth_free(a);
    jwtauth_free(NULL);
    ck_assert_str_eq(jwtauth_result_name(JWTAUTH_BAD_SIGNATURE), "bad_signature");
    ck_assert_str_eq(jwtauth_result_name((enum jwtauth_result)99), "unknown");
}
END_TEST

struct worker {
    const struct jwtauth *a;
    const char *good, *bad;
    int ok, refused;
};

static void *verify_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 300; i++) {
        struct jwtauth_claims cl;
        char err[256];
        w->ok += jwtauth_verify(w->a, w->good, NOW, &cl, err, sizeof err) == JWTAUTH_OK &&
                 strcmp(cl.sub, "t") == 0;
        w->refused +=
            jwtauth_verify(w->a, w->bad, NOW, &cl, err, sizeof err) == JWTAUTH_BAD_SIGNATURE;
    }
    return NULL;
}

/* One verifier shared by threads, as the lws thread and the HTTP threads would share it. */
START_TEST(threads_share_a_verifier)
{
    struct jwtauth *h = hs_verifier(NULL, NULL, 0), *r = rs_verifier();
    char *hg = hs("{\"alg\":\"HS256\"}", "{\"sub\":\"t\"}", SECRET);
    char *hb = hs("{\"alg\":\"HS256\"}", "{\"sub\":\"t\"}", SECRET "!");
    char *rg = rs("{\"alg\":\"RS256\"}", "{\"sub\":\"t\"}", rsa_priv);
    char *rb = rs("{\"alg\":\"RS256\"}", "{\"sub\":\"t\"}", evil_priv);
    struct worker w[4] = {
        {h, hg, hb, 0, 0}, {h, hg, hb, 0, 0}, {r, rg, rb, 0, 0}, {r, rg, rb, 0, 0}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, verify_many, &w[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].ok, 300);
        ck_assert_int_eq(w[i].refused, 300);
    }
    free(hg);
    free(hb);
    free(rg);
    free(rb);
    jwtauth_free(h);
    jwtauth_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jwtauth");
    TCase *tc = tcase_create("verify");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, libjwt_tokens_accepted);
    tcase_add_test(tc, leeway_and_parties);
    tcase_add_test(tc, malformed_and_forged_tokens);
    tcase_add_test(tc, configuration_errors);
    tcase_add_test(tc, threads_share_a_verifier);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
