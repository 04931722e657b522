/*
 * client — a minimal blocking wire-protocol client: connect to one member, run one command
 * as OP_MSG, read the reply. For tests, tools and scripts that must reach one specific
 * member (fault commands) without a driver's server selection.
 */
#ifndef MONGOSIM_CLIENT_H
#define MONGOSIM_CLIENT_H

#include <bson/bson.h>

/* Connects to host:port (numeric address). Returns a socket or -1. Caller closes. */
int client_connect(const char *host, int port, int timeout_ms);

/* Writes all of buf. Returns 0 or -1. */
int client_send(int fd, const void *buf, size_t len);

/*
 * Reads one OP_MSG or OP_REPLY reply and initialises *reply with its document (caller
 * destroys). Returns 0, or -1 on timeout, close or a malformed reply.
 */
int client_read_reply(int fd, bson_t *reply, int timeout_ms);

/* What the header of a reply said (for tests of streamed replies). */
struct client_reply_info {
    int32_t request_id, response_to;
    uint32_t flags; /* OP_MSG flagBits (0 for OP_REPLY) */
};

/* client_read_reply that also returns the reply's header fields in *info. */
int client_read_reply_info(int fd, bson_t *reply, struct client_reply_info *info, int timeout_ms);

/* Runs cmd on database db over fd. Returns 0 with *reply set (caller destroys), or -1. */
int client_command(int fd, const char *db, const bson_t *cmd, bson_t *reply, int timeout_ms);

/* Waits for the peer to close fd. Returns 1 when it closed within timeout_ms, else 0. */
int client_wait_closed(int fd, int timeout_ms);

#endif
