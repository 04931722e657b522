/*
 * cluster — relays without a single point of failure (docs/relay-ha.md).
 *
 * Members list each other (--peers) and look at each other's GET /cluster every
 * --election-interval. One member is the leader: it sequences every event; followers
 * forward POST /emit to it and mirror its stream (relay/replica.c), so every member serves
 * clients the same offsets. When no member claims leadership, the one holding the newest
 * offset (then the lowest id) takes over under a new epoch that continues the offsets.
 */
#ifndef RELAY_CLUSTER_H
#define RELAY_CLUSTER_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "hub.h"
#include "replica.h"

struct cluster;

/* leaving: set when this member shuts down; it then reports role "leaving" and its peers
 * elect a successor at once rather than wait for it to disappear. */
struct cluster *cluster_new(const struct relay_config *cfg, struct hub *hub,
                            replica_mirrored_fn fn, void *ud, volatile sig_atomic_t *leaving,
                            char *err, size_t errlen)
    __attribute__((warn_unused_result));
void cluster_free(struct cluster *c); /* accepts NULL */

int cluster_is_leader(struct cluster *c);
/* Ready for clients: the leader, or a follower in sync with it. */
int cluster_ready(struct cluster *c);

/*
 * Forwards an emit body to the leader with the caller's Authorization header. Returns the
 * leader's HTTP status with its body in *out (caller frees), or 0 when there is no leader or
 * it cannot be reached.
 */
long cluster_forward(struct cluster *c, const char *body, size_t len, const char *auth,
                     char **out, size_t *outlen);

/* {"id","role","leader","epoch","offset","committed","synced","replicas","members":[...]} */
json_t *cluster_status(struct cluster *c);

#endif
