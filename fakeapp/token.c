#include "token.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"

char *token_mint(const char *secret, long ttl_s, long long now, char *err, size_t errlen)
{
    jwt_t *j = NULL;
    char *out = NULL;
    if (jwt_new(&j) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0 ||
        jwt_add_grant(j, "sub", "page") != 0 || jwt_add_grant_int(j, "iat", (long)now) != 0 ||
        jwt_add_grant_int(j, "exp", (long)(now + ttl_s)) != 0 ||
        jwt_add_grants_json(j, "{\"channels\":[\"*\"]}") != 0) {
        snprintf(err, errlen, "cannot build the token");
        goto out;
    }
    char *s = jwt_encode_str(j);
    if (s == NULL) {
        snprintf(err, errlen, "cannot sign the token");
        goto out;
    }
    out = strdup(s);
    free(s);
    if (out == NULL)
        snprintf(err, errlen, "out of memory");
out:
    jwt_free(j);
    return out;
}

void token_handle(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    const struct api *a = ud;
    httpd_add_header(resp, "Cache-Control", "no-store");
    if (a->client_jwt_secret == NULL) {
        /* Not an error: the page asks on every connect, and a 404 would be a console error. */
        httpd_reply_json(resp, 200, json_pack("{s:n, s:s}", "token", "auth", "off"));
        return;
    }
    char err[128];
    char *t = token_mint(a->client_jwt_secret, a->client_jwt_ttl_s, (long long)time(NULL), err,
                         sizeof err);
    if (t == NULL) {
        httpd_reply_error(resp, 500, "token_error", "%s", err);
        return;
    }
    httpd_reply_json(
        resp, 200,
        json_pack("{s:s, s:I}", "token", t, "expires_in", (json_int_t)a->client_jwt_ttl_s));
    free(t);
}
