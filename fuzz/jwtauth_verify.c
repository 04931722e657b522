/*
 * libFuzzer target for client token verification (common/jwtauth.c). The first input byte
 * picks the mode:
 *   even: the rest is a token as a client would send it (?token=, Socket.IO auth), checked
 *         by an HS256 and an RS256 verifier;
 *   odd:  the rest is "<header JSON>\n<payload JSON>", which the harness encodes and signs
 *         with the HS256 secret, so that the claim checks behind the signature are reached.
 * Invariants: the result is a known code with a message; an accepted token's claims respect
 * the documented limits.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwtauth.h"

#define SECRET "fuzz-secret-0123456789abcdef0123456789"
#define NOW 1800000000LL

/* An RSA-2048 public key (no private half is needed: nothing fuzzed can sign for it). */
static const char RSA_PUB[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtsgPNhFtiaDs51SOTLU0\n"
                              "qbX/eVoqC/HWfvT0kUx1a5xexYvhuMBLzwdob3UYB6iigmznydJqR03FLQkHNgWr\n"
                              "Fwr05w59kVkmijv38C7I9ttksY925B/lVIWu7uoSf7rPBD7EUV8niJB0djeDzLgz\n"
                              "m1KQ9TtBBwq5nIvi+HtpK7ZdjMlhYT9723JcTqwnsA5ef+XoRTiMU+HmOQWMC7z/\n"
                              "X+eIlUAdoHETC+Zr7yD4GL1rybpsebDZxCvPsR3sMs4ItPRZLL/BlzcW7Cd/XZWS\n"
                              "zyAOq33lKoPBT8YQ4ROLQ6m6Uury4DNKyUiH+NzGKQ/82gv64IKIquG+TT47v0hS\n"
                              "XQIDAQAB\n"
                              "-----END PUBLIC KEY-----\n";

static struct jwtauth *hs, *rs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static void check(const struct jwtauth *a, const char *token)
{
    struct jwtauth_claims cl;
    char err[256];
    enum jwtauth_result r = jwtauth_verify(a, token, NOW, &cl, err, sizeof err);
    if (strcmp(jwtauth_result_name(r), "unknown") == 0)
        abort();
    if (r != JWTAUTH_OK) {
        if (err[0] == '\0' || cl.nchannels != 0 || cl.sub[0] != '\0')
            abort();
        return;
    }
    if (cl.nchannels > JWTAUTH_CHANNELS_MAX || strlen(cl.sub) > JWTAUTH_SUB_MAX)
        abort();
    for (size_t i = 0; i < cl.nchannels; i++) {
        size_t n = strlen(cl.channels[i]);
        if (n == 0 || n > JWTAUTH_CHANNEL_MAX ||
            strspn(cl.channels[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_.:-") != n ||
            !jwtauth_channel_allowed(&cl, cl.channels[i]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (hs == NULL) {
        char err[256];
        struct jwtauth_config h = {.secret = SECRET, .leeway_s = 30};
        struct jwtauth_config r = {.public_key_pem = RSA_PUB, .leeway_s = 30};
        hs = jwtauth_new(&h, err, sizeof err);
        rs = jwtauth_new(&r, err, sizeof err);
        if (hs == NULL || rs == NULL)
            abort();
    }
    if (size < 1 || size > 6000)
        return 0;
    if ((data[0] & 1) == 0) {
        char *token = malloc(size);
        memcpy(token, data + 1, size - 1);
        token[size - 1] = '\0';
        check(hs, token);
        check(rs, token);
        free(token);
        return 0;
    }
    const uint8_t *body = data + 1, *nl = memchr(body, '\n', size - 1);
    if (nl == NULL)
        return 0;
    size_t hl = (size_t)(nl - body), pl = size - 2 - hl;
    char *t = malloc(2 * size + 128);
    b64url(body, hl, t);
    strcat(t, ".");
    b64url(nl + 1, pl, t + strlen(t));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)t, strlen(t), mac, &ml);
    strcat(t, ".");
    b64url(mac, ml, t + strlen(t));
    check(hs, t);
    free(t);
    return 0;
}
