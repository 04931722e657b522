/*
 * replica — a follower relay's replication stream: it connects to the leader's websocket
 * endpoint as a replica client (?replica=ID&since=N&epoch=E), mirrors every frame into the
 * local hub with the leader's offsets and epoch, acknowledges what it holds ("ack N") so
 * the leader can commit, and resynchronises (adopting the leader's lineage) when its own
 * history cannot be continued. Runs on its own thread.
 */
#ifndef RELAY_REPLICA_H
#define RELAY_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"

struct replica;

/* Called on the replication thread for each mirrored event that carried an emit id. */
typedef void (*replica_mirrored_fn)(void *ud, const char *id, uint64_t offset);

/* Starts the thread, following nobody yet. Returns NULL with a message in err. */
struct replica *replica_new(struct hub *hub, int self_id, replica_mirrored_fn fn, void *ud,
                            char *err, size_t errlen) __attribute__((warn_unused_result));
/* Follows the relay whose websocket port is host:ws_port; host NULL = follow nobody. */
void replica_follow(struct replica *r, const char *host, int ws_port);
/* 1 once everything the current leader held at connect time has been mirrored. */
int replica_synced(struct replica *r);
void replica_free(struct replica *r); /* accepts NULL */

#endif
