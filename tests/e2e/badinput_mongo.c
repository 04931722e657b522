/*
 * badinput_mongo — malformed MongoDB wire-protocol messages against mongosim over raw
 * sockets, each with the answer docs/mongosim.md documents: a message that cannot be framed
 * or parsed closes that connection (and only that one); a well-formed command the server
 * cannot run gets an error reply {ok:0, code, errmsg}. BSON is built by hand here, so that
 * it can be wrong in every way a driver would never be.
 *
 *   badinput_mongo [--observe] HOST PORT
 *
 * Prints PASS/FAIL lines (--observe: what happened). A connection opened before the first
 * case must still be answered after the last, and a fresh one after every case.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e.h"

static const char *host;
static int port;
static int observe;

/* ---- a tiny BSON writer: good and bad documents -------------------------------------- */

struct buf {
    uint8_t b[1 << 20];
    size_t n;
}; /* 1 MiB: only ever static */

static void put(struct buf *o, const void *p, size_t n)
{
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put32(struct buf *o, int32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, x, 4);
}
static void set32(struct buf *o, size_t at, int32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    memcpy(o->b + at, x, 4);
}
static size_t doc_begin(struct buf *o)
{
    size_t at = o->n;
    put32(o, 0);
    return at;
}
static void doc_end(struct buf *o, size_t at)
{
    uint8_t z = 0;
    put(o, &z, 1);
    set32(o, at, (int32_t)(o->n - at));
}
static void key(struct buf *o, uint8_t type, const char *k)
{
    put(o, &type, 1);
    put(o, k, strlen(k) + 1);
}
static void el_int(struct buf *o, const char *k, int32_t v)
{
    key(o, 0x10, k);
    put32(o, v);
}
static void el_str(struct buf *o, const char *k, const char *v)
{
    key(o, 0x02, k);
    put32(o, (int32_t)strlen(v) + 1);
    put(o, v, strlen(v) + 1);
}

/* {<cmd>: 1, $db: db} plus extra raw elements appended by f. */
static void command(struct buf *o, const char *cmd, const char *db, void (*f)(struct buf *))
{
    size_t d = doc_begin(o);
    el_int(o, cmd, 1);
    if (f)
        f(o);
    if (db)
        el_str(o, "$db", db);
    doc_end(o, d);
}

/* ---- messages ------------------------------------------------------------------------ */

struct msg {
    struct buf m;
};

/* header(length filled later, requestID, responseTo, opcode) */
static void header(struct buf *o, int32_t opcode)
{
    o->n = 0;
    put32(o, 0);
    put32(o, 4242);
    put32(o, 0);
    put32(o, opcode);
}
static void finish(struct buf *o)
{
    set32(o, 0, (int32_t)o->n);
}
/* OP_MSG: flags, then kind-0 body produced by body(). */
static void op_msg(struct buf *o, uint32_t flags, void (*body)(struct buf *))
{
    header(o, 2013);
    put32(o, (int32_t)flags);
    uint8_t kind = 0;
    put(o, &kind, 1);
    body(o);
    finish(o);
}

static void ping_body(struct buf *o)
{
    command(o, "ping", "admin", NULL);
}

/* ---- the socket side ------------------------------------------------------------------ */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_exact(int fd, uint8_t *p, size_t n, int ms)
{
    size_t got = 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (got < n) {
        int r = poll(&pf, 1, ms);
        if (r == 0)
            return -2; /* nothing within ms */
        ssize_t k = recv(fd, p + got, n - got, 0);
        if (k <= 0)
            return -1; /* closed or reset */
        got += (size_t)k;
    }
    return 0;
}

static int32_t rd32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

struct reply {
    int kind; /* 0 = reply, -1 = closed, -2 = no answer */
    double ok;
    int code;
    char errmsg[200];
};

/* Reads one reply (OP_MSG or OP_REPLY) and picks ok/code/errmsg from its top level. */
static void read_reply(int fd, struct reply *r, int ms)
{
    memset(r, 0, sizeof *r);
    uint8_t h[16];
    int rc = read_exact(fd, h, 16, ms);
    if (rc != 0) {
        r->kind = rc;
        return;
    }
    int32_t len = rd32(h), op = rd32(h + 12);
    if (len < 16 || len > (1 << 24)) {
        r->kind = -1;
        return;
    }
    uint8_t *p = malloc((size_t)len);
    if (read_exact(fd, p, (size_t)len - 16, 2000) != 0) {
        free(p);
        r->kind = -1;
        return;
    }
    size_t off = op == 2013 ? 5 : 20; /* OP_MSG: flags + kind; OP_REPLY: flags,cursor,from,n */
    const uint8_t *d = p + off, *end = p + len - 16;
    r->ok = -1;
    for (const uint8_t *e = d + 4; e < end && *e;) {
        uint8_t t = *e++;
        const char *k = (const char *)e;
        e += strlen(k) + 1;
        size_t vlen;
        switch (t) {
        case 0x01:
            if (!strcmp(k, "ok")) {
                double v;
                memcpy(&v, e, 8);
                r->ok = v;
            }
            vlen = 8;
            break;
        case 0x10:
            if (!strcmp(k, "code"))
                r->code = rd32(e);
            if (!strcmp(k, "ok"))
                r->ok = rd32(e);
            vlen = 4;
            break;
        case 0x12:
        case 0x09:
        case 0x11:
            vlen = 8;
            break;
        case 0x08:
            vlen = 1;
            break;
        case 0x0A:
            vlen = 0;
            break;
        case 0x07:
            vlen = 12;
            break;
        case 0x02:
            if (!strcmp(k, "errmsg"))
                snprintf(r->errmsg, sizeof r->errmsg, "%s", (const char *)e + 4);
            vlen = 4 + (size_t)rd32(e);
            break;
        case 0x03:
        case 0x04:
            vlen = (size_t)rd32(e);
            break;
        case 0x05:
            vlen = 5 + (size_t)rd32(e);
            break;
        default:
            e = end; /* a type this reader does not need: stop */
            continue;
        }
        e += vlen;
    }
    free(p);
    r->kind = 0;
}

static int command_ok(int fd)
{
    static struct buf m;
    op_msg(&m, 0, ping_body);
    if (send(fd, m.b, m.n, MSG_NOSIGNAL) != (ssize_t)m.n)
        return 0;
    struct reply r;
    read_reply(fd, &r, 3000);
    return r.kind == 0 && r.ok == 1;
}

/* ---- cases ----------------------------------------------------------------------------- */

enum expect { EXP_CLOSED, EXP_ERROR, EXP_OK, EXP_SILENT };

struct mcase {
    const char *name;
    void (*build)(struct buf *);
    enum expect expect;
    int code; /* EXP_ERROR: the code (0 = any) */
};

#define RAW_HEADER(name, len, op)                                                                  \
    static void name(struct buf *o)                                                                \
    {                                                                                              \
        header(o, op);                                                                             \
        uint8_t z[32] = {0};                                                                       \
        put(o, z, sizeof z);                                                                       \
        set32(o, 0, len);                                                                          \
    }
RAW_HEADER(len_5, 5, 2013)
RAW_HEADER(len_negative, -1, 2013)
RAW_HEADER(len_over_max, 48000001, 2013)
RAW_HEADER(len_int_max, 0x7fffffff, 2013)
RAW_HEADER(opcode_2010, 48, 2010)
RAW_HEADER(opcode_compressed, 48, 2012)
RAW_HEADER(opcode_reply, 48, 1)
RAW_HEADER(opcode_zero, 48, 0)

static void flags_unknown(struct buf *o)
{
    op_msg(o, 0x4, ping_body);
}
static void flags_high_optional(struct buf *o)
{
    op_msg(o, 0x20000, ping_body); /* bit 17: optional, ignored */
}
static void checksum_no_room(struct buf *o)
{
    header(o, 2013);
    put32(o, 1);
    uint8_t x = 0;
    put(o, &x, 1);
    finish(o); /* flags + 1 byte: no room for a body and a CRC */
}
static void no_sections(struct buf *o)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t z[5] = {0};
    put(o, z, 1); /* one stray byte: neither a section kind with content nor nothing */
    finish(o);
    (void)z;
}
static void kind_2(struct buf *o)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 2;
    put(o, &k, 1);
    command(o, "ping", "admin", NULL);
    finish(o);
}
static void two_bodies(struct buf *o)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    command(o, "ping", "admin", NULL);
    put(o, &k, 1);
    command(o, "ping", "admin", NULL);
    finish(o);
}
static void body_len_too_big(struct buf *o)
{
    op_msg(o, 0, ping_body);
    set32(o, 21, 5000); /* the body's own length, past the message */
}
static void body_len_too_small(struct buf *o)
{
    op_msg(o, 0, ping_body);
    set32(o, 21, 4);
}
static void body_not_terminated(struct buf *o)
{
    op_msg(o, 0, ping_body);
    o->b[o->n - 1] = 0x7f; /* last byte of the body must be 0 */
}
static void body_bad_type(struct buf *o)
{
    op_msg(o, 0, ping_body);
    o->b[21 + 4] = 0x77; /* the first element's type */
}
static void bad_string_len(struct buf *o)
{
    size_t d;
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    d = doc_begin(o);
    el_int(o, "ping", 1);
    key(o, 0x02, "$db");
    put32(o, 1000); /* longer than the document */
    put(o, "admin", 6);
    doc_end(o, d);
    finish(o);
}
static void string_no_nul(struct buf *o)
{
    size_t d;
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    d = doc_begin(o);
    el_int(o, "ping", 1);
    key(o, 0x02, "$db");
    put32(o, 6);
    put(o, "adminX", 6); /* no terminating NUL inside its length */
    doc_end(o, d);
    finish(o);
}
static void key_no_nul(struct buf *o)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    size_t d = doc_begin(o);
    uint8_t t = 0x10;
    put(o, &t, 1);
    put(o, "pingpingpingping", 16); /* key runs into the end */
    set32(o, d, (int32_t)(o->n - d));
    finish(o);
}
/* {ping: 1, $db: "admin", x: {x: {... levels deep ...}}} */
static void deep(struct buf *o, int levels)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    static size_t at[20000];
    size_t top = doc_begin(o);
    el_int(o, "ping", 1);
    el_str(o, "$db", "admin");
    for (int i = 0; i < levels; i++) {
        key(o, 0x03, "x");
        at[i] = doc_begin(o);
    }
    for (int i = levels - 1; i >= 0; i--)
        doc_end(o, at[i]);
    doc_end(o, top);
    finish(o);
}
static void deep_150(struct buf *o)
{
    deep(o, 150);
}
/* libbson's validation recursed once per level: 10,000 levels overflowed mongosim's stack. */
static void deep_10000(struct buf *o)
{
    deep(o, 10000);
}
static void empty_command(struct buf *o)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    size_t d = doc_begin(o);
    doc_end(o, d);
    finish(o);
}
static void no_db_body(struct buf *o)
{
    command(o, "ping", NULL, NULL);
}
static void no_db(struct buf *o)
{
    op_msg(o, 0, no_db_body);
}
static void db_int_extra(struct buf *o)
{
    el_int(o, "$db", 7);
}
static void db_int_body(struct buf *o)
{
    command(o, "ping", NULL, db_int_extra);
}
static void db_int(struct buf *o)
{
    op_msg(o, 0, db_int_body);
}
static void db_empty_body(struct buf *o)
{
    command(o, "ping", "", NULL);
}
static void db_empty(struct buf *o)
{
    op_msg(o, 0, db_empty_body);
}
static void long_name_body(struct buf *o)
{
    command(o, "pingpingpingpingpingpingpingpingpingpingpingpingpingpingpingpingpingping", "admin",
            NULL);
}
static void long_name(struct buf *o)
{
    op_msg(o, 0, long_name_body);
}
/* A kind-1 section after the body: size, identifier, documents. */
static void seq(struct buf *o, int32_t size_adjust, const char *ident, int bad_doc)
{
    uint8_t k = 1;
    put(o, &k, 1);
    size_t at = o->n;
    put32(o, 0);
    put(o, ident, strlen(ident) + 1);
    size_t d = doc_begin(o);
    el_int(o, "a", 1);
    doc_end(o, d);
    if (bad_doc)
        o->b[d + 4] = 0x66;
    set32(o, at, (int32_t)(o->n - at) + size_adjust);
}
static void insert_body(struct buf *o)
{
    size_t d = doc_begin(o);
    el_str(o, "insert", "items");
    el_str(o, "$db", "badinput");
    doc_end(o, d);
}
static void seq_case(struct buf *o, int32_t adj, const char *ident, int bad_doc, int twice)
{
    header(o, 2013);
    put32(o, 0);
    uint8_t k = 0;
    put(o, &k, 1);
    insert_body(o);
    seq(o, adj, ident, bad_doc);
    if (twice)
        seq(o, 0, ident, 0);
    finish(o);
}
static void seq_size_big(struct buf *o)
{
    seq_case(o, 1000, "documents", 0, 0);
}
static void seq_size_small(struct buf *o)
{
    seq_case(o, -20, "documents", 0, 0);
}
static void seq_bad_doc(struct buf *o)
{
    seq_case(o, 0, "documents", 1, 0);
}
static void seq_twice(struct buf *o)
{
    seq_case(o, 0, "documents", 0, 1);
}
static void seq_repeats_body(struct buf *o)
{
    seq_case(o, 0, "insert", 0, 0);
}
static void seq_ok(struct buf *o)
{
    seq_case(o, 0, "documents", 0, 0);
}
static void op_query(struct buf *o, const char *ns, int trailing, int handshake)
{
    header(o, 2004);
    put32(o, 0);
    put(o, ns, strlen(ns) + 1);
    put32(o, 0);
    put32(o, -1);
    size_t d = doc_begin(o);
    if (handshake)
        el_int(o, "isMaster", 1);
    else
        el_int(o, "a", 1);
    doc_end(o, d);
    if (trailing)
        put32(o, 12345);
    finish(o);
}
static void query_find(struct buf *o)
{
    op_query(o, "t.items", 0, 0);
}
static void query_trailing(struct buf *o)
{
    op_query(o, "admin.$cmd", 1, 1);
}
static void query_handshake(struct buf *o)
{
    op_query(o, "admin.$cmd", 0, 1);
}
static void query_ns_unterminated(struct buf *o)
{
    header(o, 2004);
    put32(o, 0);
    put(o, "admin.$cmdadmin.$cmdadmin.$cmd", 30);
    finish(o);
}
static void unknown_command_body(struct buf *o)
{
    command(o, "frobnicate", "admin", NULL);
}
static void unknown_command(struct buf *o)
{
    op_msg(o, 0, unknown_command_body);
}
static void find_filter_int_extra(struct buf *o)
{
    el_int(o, "filter", 5);
}
static void find_filter_int_body(struct buf *o)
{
    size_t d = doc_begin(o);
    el_str(o, "find", "items");
    find_filter_int_extra(o);
    el_str(o, "$db", "badinput");
    doc_end(o, d);
}
static void find_filter_int(struct buf *o)
{
    op_msg(o, 0, find_filter_int_body);
}
static void insert_docs_int_body(struct buf *o)
{
    size_t d = doc_begin(o);
    el_str(o, "insert", "items");
    el_int(o, "documents", 3);
    el_str(o, "$db", "badinput");
    doc_end(o, d);
}
static void insert_docs_int(struct buf *o)
{
    op_msg(o, 0, insert_docs_int_body);
}
static void find_coll_int_body(struct buf *o)
{
    size_t d = doc_begin(o);
    el_int(o, "find", 12);
    el_str(o, "$db", "badinput");
    doc_end(o, d);
}
static void find_coll_int(struct buf *o)
{
    op_msg(o, 0, find_coll_int_body);
}
static void find_bad_operator_body(struct buf *o)
{
    size_t d = doc_begin(o);
    el_str(o, "find", "items");
    key(o, 0x03, "filter");
    size_t f = doc_begin(o);
    key(o, 0x03, "a");
    size_t g = doc_begin(o);
    el_int(o, "$frob", 1);
    doc_end(o, g);
    doc_end(o, f);
    el_str(o, "$db", "badinput");
    doc_end(o, d);
}
static void find_bad_operator(struct buf *o)
{
    op_msg(o, 0, find_bad_operator_body);
}
static void getmore_unknown_body(struct buf *o)
{
    size_t d = doc_begin(o);
    key(o, 0x12, "getMore");
    int64_t id = 987654321;
    put(o, &id, 8);
    el_str(o, "collection", "items");
    el_str(o, "$db", "badinput");
    doc_end(o, d);
}
static void getmore_unknown(struct buf *o)
{
    op_msg(o, 0, getmore_unknown_body);
}
static void more_to_come(struct buf *o)
{
    op_msg(o, 0x2, ping_body); /* no reply is owed; the next command is answered */
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && strcmp(argv[a], "--observe") == 0) {
        observe = 1;
        a++;
    }
    if (argc - a != 2) {
        fprintf(stderr, "usage: badinput_mongo [--observe] HOST PORT\n");
        return 2;
    }
    host = argv[a];
    port = atoi(argv[a + 1]);
    static const struct mcase cases[] = {
        {"length_5", len_5, EXP_CLOSED, 0},
        {"length_negative", len_negative, EXP_CLOSED, 0},
        {"length_over_48mb", len_over_max, EXP_CLOSED, 0},
        {"length_int32_max", len_int_max, EXP_CLOSED, 0},
        {"opcode_2010", opcode_2010, EXP_CLOSED, 0},
        {"opcode_compressed", opcode_compressed, EXP_CLOSED, 0},
        {"opcode_reply_from_client", opcode_reply, EXP_CLOSED, 0},
        {"opcode_0", opcode_zero, EXP_CLOSED, 0},
        {"msg_unknown_required_flag", flags_unknown, EXP_CLOSED, 0},
        {"msg_optional_flag_ignored", flags_high_optional, EXP_OK, 0},
        {"msg_checksum_without_room", checksum_no_room, EXP_CLOSED, 0},
        {"msg_no_body_section", no_sections, EXP_CLOSED, 0},
        {"msg_section_kind_2", kind_2, EXP_CLOSED, 0},
        {"msg_two_bodies", two_bodies, EXP_CLOSED, 0},
        {"bson_length_past_message", body_len_too_big, EXP_CLOSED, 0},
        {"bson_length_under_5", body_len_too_small, EXP_CLOSED, 0},
        {"bson_not_terminated", body_not_terminated, EXP_CLOSED, 0},
        {"bson_unknown_type", body_bad_type, EXP_CLOSED, 0},
        {"bson_string_length_past_doc", bad_string_len, EXP_CLOSED, 0},
        {"bson_string_without_nul", string_no_nul, EXP_CLOSED, 0},
        {"bson_key_without_nul", key_no_nul, EXP_CLOSED, 0},
        {"bson_nested_150_deep", deep_150, EXP_OK, 0},
        {"bson_nested_10000_deep", deep_10000, EXP_CLOSED, 0},
        {"command_empty", empty_command, EXP_CLOSED, 0},
        {"command_without_db", no_db, EXP_CLOSED, 0},
        {"command_db_not_string", db_int, EXP_CLOSED, 0},
        {"command_db_empty", db_empty, EXP_CLOSED, 0},
        {"command_name_72_chars", long_name, EXP_CLOSED, 0},
        {"sequence_size_past_message", seq_size_big, EXP_CLOSED, 0},
        {"sequence_size_too_small", seq_size_small, EXP_CLOSED, 0},
        {"sequence_bad_document", seq_bad_doc, EXP_CLOSED, 0},
        {"sequence_twice", seq_twice, EXP_CLOSED, 0},
        {"sequence_repeats_body_field", seq_repeats_body, EXP_CLOSED, 0},
        {"sequence_insert_ok", seq_ok, EXP_OK, 0},
        {"query_legacy_find", query_find, EXP_CLOSED, 0},
        {"query_trailing_bytes", query_trailing, EXP_CLOSED, 0},
        {"query_namespace_unterminated", query_ns_unterminated, EXP_CLOSED, 0},
        {"query_handshake_ok", query_handshake, EXP_OK, 0},
        {"unknown_command", unknown_command, EXP_ERROR, 59},
        {"find_filter_not_document", find_filter_int, EXP_ERROR, 0},
        {"find_collection_not_string", find_coll_int, EXP_ERROR, 0},
        {"find_unknown_operator", find_bad_operator, EXP_ERROR, 0},
        {"insert_documents_not_array", insert_docs_int, EXP_ERROR, 0},
        {"getmore_unknown_cursor", getmore_unknown, EXP_ERROR, 43},
        {"more_to_come_no_reply", more_to_come, EXP_SILENT, 0},
    };
    int keeper = dial();
    check(keeper >= 0 && command_ok(keeper), "mongo_keeper_connection", "no ping reply");
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        static struct buf m;
        memset(&m, 0, sizeof m);
        cases[i].build(&m);
        int fd = dial();
        send(fd, m.b, m.n, MSG_NOSIGNAL);
        struct reply r;
        read_reply(fd, &r, cases[i].expect == EXP_SILENT ? 500 : 3000);
        char what[300];
        if (r.kind == -1)
            snprintf(what, sizeof what, "connection closed");
        else if (r.kind == -2)
            snprintf(what, sizeof what, "no answer");
        else
            snprintf(what, sizeof what, "reply ok=%g code=%d errmsg=\"%.150s\"", r.ok, r.code,
                     r.errmsg);
        int ok = 0;
        switch (cases[i].expect) {
        case EXP_CLOSED:
            ok = r.kind == -1;
            break;
        case EXP_ERROR:
            ok = r.kind == 0 && r.ok == 0 && r.errmsg[0] &&
                 (cases[i].code == 0 || r.code == cases[i].code) && command_ok(fd);
            break;
        case EXP_OK:
            ok = r.kind == 0 && r.ok == 1 && command_ok(fd);
            break;
        case EXP_SILENT:
            ok = r.kind == -2 && command_ok(fd);
            break;
        }
        close(fd);
        char name[96];
        snprintf(name, sizeof name, "mongo_%s", cases[i].name);
        if (observe) {
            printf("%-32s %s\n", cases[i].name, what);
            continue;
        }
        check(ok, name, "%s", what);
        int fresh = dial();
        snprintf(name, sizeof name, "mongo_serves_after_%s", cases[i].name);
        check(fresh >= 0 && command_ok(fresh), name, "a fresh connection got no ping reply");
        close(fresh);
    }
    check(command_ok(keeper), "mongo_keeper_still_served", "the first connection was dropped");
    close(keeper);
    if (!observe)
        printf("info: %zu malformed or edge-case wire messages\n", n);
    return e2e_failures ? 1 : 0;
}
