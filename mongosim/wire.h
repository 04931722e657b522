/*
 * wire — MongoDB wire-protocol framing: the 16-byte header, OP_MSG requests (body plus
 * document sequences), the legacy OP_QUERY handshake, and encoding of OP_MSG and OP_REPLY
 * replies. Pure functions over byte buffers; nothing here touches sockets.
 */
#ifndef MONGOSIM_WIRE_H
#define MONGOSIM_WIRE_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_LEN 16
#define WIRE_MAX_MESSAGE 48000000 /* maxMessageSizeBytes, as a real server announces */
#define WIRE_MAX_DEPTH 200        /* nesting accepted in a message, as mongod's maxBSONDepth */
#define WIRE_OP_REPLY 1
#define WIRE_OP_QUERY 2004
#define WIRE_OP_COMPRESSED 2012
#define WIRE_OP_MSG 2013

#define WIRE_MSG_CHECKSUM 0x1u
#define WIRE_MSG_MORE_TO_COME 0x2u
#define WIRE_MSG_EXHAUST_ALLOWED 0x10000u

/* One parsed request. It holds a bson_t, so it must not be copied by value once filled. */
struct wire_msg {
    int32_t request_id;
    int32_t opcode; /* WIRE_OP_MSG or WIRE_OP_QUERY */
    uint32_t flags; /* OP_MSG flagBits, or OP_QUERY flags */
    char db[128];   /* $db (OP_MSG) or the database of the OP_QUERY namespace */
    char name[64];  /* the command name: the first key of the command */
    bson_t cmd;     /* the command with document sequences merged in as arrays; owned */
};

/*
 * Looks at the header at buf[0..len). Returns the declared message length when the header
 * is complete and acceptable, 0 when fewer than 16 bytes are there, or -1 with a reason in
 * err (length under the minimum or over WIRE_MAX_MESSAGE, unsupported opcode).
 */
int32_t wire_frame_length(const uint8_t *buf, size_t len, char *err, size_t errlen);

/*
 * Parses one complete message of exactly len bytes (len as returned by
 * wire_frame_length). Returns 0 and fills out (release with wire_msg_cleanup), or -1 with a
 * reason in err: bad flags, truncated or invalid BSON, bad sections, an OP_QUERY that is
 * not a hello/isMaster handshake on "<db>.$cmd".
 */
int wire_parse(const uint8_t *buf, size_t len, struct wire_msg *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Releases what wire_parse allocated. Accepts a zeroed struct. */
void wire_msg_cleanup(struct wire_msg *msg);

/*
 * Allocates a zeroed wire_msg on the heap with the alignment bson_t demands (plain malloc
 * is not enough). Returns NULL on OOM. Free with wire_msg_free.
 */
struct wire_msg *wire_msg_new(void);

/* Cleans up and frees a message from wire_msg_new. Accepts NULL. */
void wire_msg_free(struct wire_msg *msg);

/*
 * Encodes an OP_MSG reply (flagBits flags, e.g. WIRE_MSG_MORE_TO_COME, one body section) or,
 * when legacy is set, an OP_REPLY with one document (flags unused). Returns a malloc'd buffer
 * of *len bytes; caller frees.
 */
uint8_t *wire_encode_reply(int legacy, uint32_t flags, int32_t request_id, int32_t response_to,
                           const bson_t *doc, size_t *len);

/* Encodes an OP_MSG request with one body section (for tests and tools); caller frees. */
uint8_t *wire_encode_msg(int32_t request_id, uint32_t flags, const bson_t *doc, size_t *len);

#endif
