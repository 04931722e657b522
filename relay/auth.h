/*
 * auth — client authentication for the relay's websockets and Socket.IO: a JWT checked by
 * common/jwtauth (HS256 with --client-jwt-secret, or RS256 with --client-jwt-key), whose
 * "channels" claim says which channels the client may join. Off unless a key is given.
 */
#ifndef RELAY_AUTH_H
#define RELAY_AUTH_H

#include <stddef.h>

#include "config.h"
#include "hub.h"

struct relay_auth;

/*
 * The verifier for c, or NULL: with err empty when authentication is off, with a message in
 * err when the key or the options are unusable. Caller frees with relay_auth_free.
 */
struct relay_auth *relay_auth_new(const struct relay_config *c, char *err, size_t errlen);
void relay_auth_free(struct relay_auth *a); /* accepts NULL */

/* A hub_auth_fn (ud = the relay_auth): "code: sentence" in err on refusal. Thread-safe. */
int relay_auth_check(void *ud, const char *token, struct hub_grant *grant, char *err,
                     size_t errlen);

#endif
