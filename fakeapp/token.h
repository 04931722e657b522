/*
 * token — GET /token: the app hands its page a short-lived client JWT for the relay, as a
 * real app would after its own login: HS256 with the secret the relay verifies
 * (--client-jwt-secret on both), sub "page", the "channels" claim ["*"] (the page lists
 * every product, whatever its store's channel), exp after --client-jwt-ttl. Without a
 * secret (client authentication off) the answer is {"token":null,"auth":"off"}.
 */
#ifndef FAKEAPP_TOKEN_H
#define FAKEAPP_TOKEN_H

#include <stddef.h>

#include "httpd.h"

/*
 * Mints a token that expires ttl_s seconds after now. Returns it (caller frees with free),
 * or NULL with a message in err.
 */
char *token_mint(const char *secret, long ttl_s, long long now, char *err, size_t errlen);

/* GET /token (ud: struct api). */
void token_handle(const struct httpd_request *req, struct httpd_response *resp, void *ud);

#endif
