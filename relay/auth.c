#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwtauth.h"

struct relay_auth {
    struct jwtauth *jwt;
};

struct relay_auth *relay_auth_new(const struct relay_config *c, char *err, size_t errlen)
{
    *err = '\0';
    if (c->client_jwt_secret == NULL && c->client_jwt_key == NULL)
        return NULL;
    struct jwtauth_config jc = {
        .secret = c->client_jwt_secret,
        .public_key_file = c->client_jwt_key,
        .leeway_s = c->client_jwt_leeway_ms / 1000,
        .issuer = c->client_jwt_issuer,
        .audience = c->client_jwt_audience,
    };
    struct relay_auth *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[256];
    a->jwt = jwtauth_new(&jc, why, sizeof why);
    if (a->jwt == NULL) {
        snprintf(err, errlen, "client authentication: %s", why);
        free(a);
        return NULL;
    }
    return a;
}

void relay_auth_free(struct relay_auth *a)
{
    if (a == NULL)
        return;
    jwtauth_free(a->jwt);
    free(a);
}

int relay_auth_check(void *ud, const char *token, struct hub_grant *grant, char *err, size_t errlen)
{
    struct relay_auth *a = ud;
    struct jwtauth_claims *cl = malloc(sizeof *cl);
    char why[200];
    if (cl == NULL) {
        snprintf(err, errlen, "internal: out of memory");
        return -1;
    }
    enum jwtauth_result r =
        jwtauth_verify(a->jwt, token, (long long)time(NULL), cl, why, sizeof why);
    if (r != JWTAUTH_OK) {
        snprintf(err, errlen, "%s: %s", jwtauth_result_name(r), why);
        free(cl);
        return -1;
    }
    grant->exp = cl->exp;
    grant->any = cl->any_channel;
    grant->n = 0;
    for (size_t i = 0; i < cl->nchannels && grant->n < HUB_CHANNELS_MAX; i++)
        snprintf(grant->names[grant->n++], sizeof grant->names[0], "%s", cl->channels[i]);
    free(cl);
    return 0;
}
