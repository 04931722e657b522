#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t rd32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

int32_t wire_frame_length(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (len < WIRE_HEADER_LEN)
        return 0;
    int32_t n = rd32(buf);
    int32_t op = rd32(buf + 12);
    if (n < WIRE_HEADER_LEN + 5 || n > WIRE_MAX_MESSAGE) {
        snprintf(err, errlen, "message length %d outside %d..%d", n, WIRE_HEADER_LEN + 5,
                 WIRE_MAX_MESSAGE);
        return -1;
    }
    if (op != WIRE_OP_MSG && op != WIRE_OP_QUERY) {
        snprintf(err, errlen, "unsupported opcode %d", op);
        return -1;
    }
    return n;
}

/*
 * 1 when documents and arrays in doc nest at most max levels below it. Counted with an
 * explicit stack: libbson's bson_validate recurses once per level, so a 48 MB message of
 * nested documents would overflow the C stack (a 10,000-deep one did) before it is judged.
 */
static int depth_ok(const bson_t *doc, int max)
{
    struct level {
        bson_iter_t it; /* wrapped: bson_iter_t's alignment is larger than its size */
    } stack[WIRE_MAX_DEPTH + 1];
    int top = 0;
    if (max > WIRE_MAX_DEPTH || !bson_iter_init(&stack[0].it, doc))
        return 0;
    while (top >= 0) {
        bson_iter_t *it = &stack[top].it;
        if (!bson_iter_next(it)) {
            top--; /* the end, or corrupt bytes: bson_validate judges those next */
            continue;
        }
        if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it) ||
            BSON_ITER_HOLDS_CODEWSCOPE(it)) {
            if (top + 1 > max)
                return 0;
            int ok;
            if (BSON_ITER_HOLDS_CODEWSCOPE(it)) {
                uint32_t clen, slen;
                const uint8_t *scope;
                bson_iter_codewscope(it, &clen, &slen, &scope);
                ok = scope != NULL && bson_iter_init_from_data(&stack[top + 1].it, scope, slen);
            } else {
                ok = bson_iter_recurse(it, &stack[top + 1].it);
            }
            if (!ok)
                return 0;
            top++;
        }
    }
    return 1;
}

/*
 * Checks every nested document and array of data[0..len) on its own: libbson's validator
 * accepts a nested document whose last byte is not the terminating zero, and
 * bson_init_static (which every later reader uses) refuses it, so such a command would
 * fail deep inside a handler. Returns 1 when sound.
 */
static int nested_sound(const uint8_t *data, uint32_t len, int depth)
{
    bson_t b;
    bson_iter_t it;
    if (depth > 200 || !bson_init_static(&b, data, len) || !bson_iter_init(&it, &b))
        return 0;
    while (bson_iter_next(&it)) {
        uint32_t l;
        const uint8_t *d;
        if (BSON_ITER_HOLDS_DOCUMENT(&it))
            bson_iter_document(&it, &l, &d);
        else if (BSON_ITER_HOLDS_ARRAY(&it))
            bson_iter_array(&it, &l, &d);
        else
            continue;
        if (!nested_sound(d, l, depth + 1))
            return 0;
    }
    return it.err_off == 0;
}

/*
 * Checks that a BSON document starts at p with at most avail bytes, nests at most
 * WIRE_MAX_DEPTH levels and is well formed all the way down. Returns its length, or -1.
 */
static int32_t doc_at(const uint8_t *p, size_t avail, bson_t *view)
{
    if (avail < 5)
        return -1;
    int32_t n = rd32(p);
    if (n < 5 || (size_t)n > avail)
        return -1;
    if (!bson_init_static(view, p, (size_t)n) || !depth_ok(view, WIRE_MAX_DEPTH))
        return -1;
    bson_error_t e;
    if (!bson_validate_with_error(view, BSON_VALIDATE_NONE, &e) || !nested_sound(p, (uint32_t)n, 0))
        return -1;
    return n;
}

/* Copies the first key of cmd into name and $db into db when present. */
static int name_and_db(struct wire_msg *out, char *err, size_t errlen)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, &out->cmd) || !bson_iter_next(&it)) {
        snprintf(err, errlen, "empty command document");
        return -1;
    }
    const char *k = bson_iter_key(&it);
    if (strlen(k) >= sizeof out->name) {
        snprintf(err, errlen, "command name too long");
        return -1;
    }
    strcpy(out->name, k);
    if (out->opcode == WIRE_OP_MSG) {
        if (!bson_iter_init_find(&it, &out->cmd, "$db") || !BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(err, errlen, "OP_MSG without $db");
            return -1;
        }
        uint32_t l;
        const char *db = bson_iter_utf8(&it, &l);
        if (l == 0 || l >= sizeof out->db || strlen(db) != l) {
            snprintf(err, errlen, "bad $db");
            return -1;
        }
        memcpy(out->db, db, l + 1);
    }
    return 0;
}

static int parse_msg(const uint8_t *p, size_t len, struct wire_msg *out, char *err, size_t errlen)
{
    uint32_t flags = (uint32_t)rd32(p);
    out->flags = flags;
    /* Bits 0-15 are "required": a receiver must fail on any it does not know. */
    if (flags & 0xfffcu) {
        snprintf(err, errlen, "unknown required OP_MSG flag bits 0x%x", flags & 0xffffu);
        return -1;
    }
    size_t end = len;
    if (flags & WIRE_MSG_CHECKSUM) {
        if (end < 4 + 4) {
            snprintf(err, errlen, "checksum flag without room for a checksum");
            return -1;
        }
        end -= 4; /* the CRC-32C is not verified: loopback and tests only */
    }
    size_t off = 4;
    int have_body = 0;
    bson_t body;
    bson_t seqs; /* identifier → array, appended after the body */
    bson_init(&seqs);
    while (off < end) {
        uint8_t kind = p[off++];
        if (kind == 0) {
            if (have_body) {
                snprintf(err, errlen, "two body sections");
                goto fail;
            }
            int32_t n = doc_at(p + off, end - off, &body);
            if (n < 0) {
                snprintf(err, errlen, "invalid BSON in body section");
                goto fail;
            }
            have_body = 1;
            off += (size_t)n;
        } else if (kind == 1) {
            if (end - off < 4) {
                snprintf(err, errlen, "truncated document sequence");
                goto fail;
            }
            int32_t size = rd32(p + off);
            if (size < 5 || (size_t)size > end - off) {
                snprintf(err, errlen, "bad document sequence size %d", size);
                goto fail;
            }
            const uint8_t *s = p + off + 4, *se = p + off + (size_t)size;
            const uint8_t *nul = memchr(s, 0, (size_t)(se - s));
            if (nul == NULL || nul == s) {
                snprintf(err, errlen, "bad document sequence identifier");
                goto fail;
            }
            const char *ident = (const char *)s;
            bson_iter_t probe;
            if (bson_iter_init_find(&probe, &seqs, ident)) {
                snprintf(err, errlen, "duplicate document sequence '%s'", ident);
                goto fail;
            }
            bson_t arr;
            bson_append_array_begin(&seqs, ident, -1, &arr);
            const uint8_t *d = nul + 1;
            uint32_t i = 0;
            while (d < se) {
                bson_t doc;
                int32_t n = doc_at(d, (size_t)(se - d), &doc);
                if (n < 0) {
                    bson_append_array_end(&seqs, &arr);
                    snprintf(err, errlen, "invalid BSON in document sequence '%s'", ident);
                    goto fail;
                }
                char key[16];
                const char *kp;
                size_t kl = bson_uint32_to_string(i++, &kp, key, sizeof key);
                bson_append_document(&arr, kp, (int)kl, &doc);
                d += n;
            }
            bson_append_array_end(&seqs, &arr);
            off += (size_t)size;
        } else {
            snprintf(err, errlen, "unknown section kind %u", kind);
            goto fail;
        }
    }
    if (!have_body) {
        snprintf(err, errlen, "OP_MSG without a body section");
        goto fail;
    }
    bson_init(&out->cmd);
    bson_concat(&out->cmd, &body);
    bson_iter_t it;
    if (bson_iter_init(&it, &seqs)) {
        while (bson_iter_next(&it)) {
            bson_iter_t probe;
            if (bson_iter_init_find(&probe, &body, bson_iter_key(&it))) {
                snprintf(err, errlen, "document sequence '%s' repeats a body field",
                         bson_iter_key(&it));
                bson_destroy(&out->cmd);
                goto fail;
            }
        }
        bson_concat(&out->cmd, &seqs);
    }
    bson_destroy(&seqs);
    return 0;
fail:
    bson_destroy(&seqs);
    return -1;
}

static int is_handshake(const char *name)
{
    return strcmp(name, "isMaster") == 0 || strcmp(name, "ismaster") == 0 ||
           strcmp(name, "hello") == 0;
}

static int parse_query(const uint8_t *p, size_t len, struct wire_msg *out, char *err, size_t errlen)
{
    out->flags = (uint32_t)rd32(p);
    const uint8_t *ns = p + 4;
    const uint8_t *nul = memchr(ns, 0, len - 4);
    if (nul == NULL) {
        snprintf(err, errlen, "OP_QUERY namespace not terminated");
        return -1;
    }
    size_t nslen = (size_t)(nul - ns);
    const char *dot = memchr(ns, '.', nslen);
    if (dot == NULL || strcmp(dot, ".$cmd") != 0 || (size_t)(dot - (const char *)ns) == 0 ||
        (size_t)(dot - (const char *)ns) >= sizeof out->db) {
        snprintf(err, errlen, "OP_QUERY on '%.*s' is not a command",
                 (int)(nslen > 100 ? 100 : nslen), (const char *)ns);
        return -1;
    }
    memcpy(out->db, ns, (size_t)(dot - (const char *)ns));
    out->db[dot - (const char *)ns] = '\0';
    size_t off = nslen + 1 + 4 + 8; /* flags, ns, numberToSkip, numberToReturn */
    if (off > len) {
        snprintf(err, errlen, "truncated OP_QUERY");
        return -1;
    }
    bson_t q;
    int32_t n = doc_at(p + off, len - off, &q);
    if (n < 0) {
        snprintf(err, errlen, "invalid BSON in OP_QUERY");
        return -1;
    }
    off += (size_t)n;
    if (off < len) {
        bson_t sel;
        if (doc_at(p + off, len - off, &sel) != (int32_t)(len - off)) {
            snprintf(err, errlen, "trailing bytes after OP_QUERY");
            return -1;
        }
    }
    bson_iter_t it;
    bson_init(&out->cmd);
    if (bson_iter_init_find(&it, &q, "$query") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t dl;
        const uint8_t *dd;
        bson_iter_document(&it, &dl, &dd);
        bson_t inner;
        if (!bson_init_static(&inner, dd, dl)) {
            snprintf(err, errlen, "bad $query");
            return -1;
        }
        bson_concat(&out->cmd, &inner);
    } else {
        bson_concat(&out->cmd, &q);
    }
    return 0;
}

int wire_parse(const uint8_t *buf, size_t len, struct wire_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int32_t n = wire_frame_length(buf, len, err, errlen);
    if (n <= 0 || (size_t)n != len) {
        if (n == 0 || (n > 0 && (size_t)n != len))
            snprintf(err, errlen, "message length does not match the buffer");
        return -1;
    }
    out->request_id = rd32(buf + 4);
    out->opcode = rd32(buf + 12);
    const uint8_t *p = buf + WIRE_HEADER_LEN;
    size_t plen = len - WIRE_HEADER_LEN;
    int rc = out->opcode == WIRE_OP_MSG ? parse_msg(p, plen, out, err, errlen)
                                        : parse_query(p, plen, out, err, errlen);
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    if (name_and_db(out, err, errlen) != 0 ||
        (out->opcode == WIRE_OP_QUERY && !is_handshake(out->name))) {
        if (out->opcode == WIRE_OP_QUERY && out->name[0] && !is_handshake(out->name))
            snprintf(err, errlen, "OP_QUERY command '%s' is not a handshake", out->name);
        bson_destroy(&out->cmd);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

void wire_msg_cleanup(struct wire_msg *msg)
{
    if (msg == NULL || msg->opcode == 0)
        return;
    bson_destroy(&msg->cmd);
    memset(msg, 0, sizeof *msg);
}

struct wire_msg *wire_msg_new(void)
{
    struct wire_msg *m = aligned_alloc(_Alignof(struct wire_msg), sizeof *m);
    if (m)
        memset(m, 0, sizeof *m);
    return m;
}

void wire_msg_free(struct wire_msg *msg)
{
    if (msg == NULL)
        return;
    wire_msg_cleanup(msg);
    free(msg);
}

uint8_t *wire_encode_reply(int legacy, uint32_t flags, int32_t request_id, int32_t response_to,
                           const bson_t *doc, size_t *len)
{
    size_t body = legacy ? 20 : 5;
    size_t n = WIRE_HEADER_LEN + body + doc->len;
    uint8_t *p = malloc(n);
    if (p == NULL)
        return NULL;
    wr32(p, (int32_t)n);
    wr32(p + 4, request_id);
    wr32(p + 8, response_to);
    wr32(p + 12, legacy ? WIRE_OP_REPLY : WIRE_OP_MSG);
    uint8_t *q = p + WIRE_HEADER_LEN;
    if (legacy) {
        wr32(q, 8);          /* AwaitCapable */
        memset(q + 4, 0, 8); /* cursorID */
        wr32(q + 12, 0);     /* startingFrom */
        wr32(q + 16, 1);     /* numberReturned */
    } else {
        wr32(q, (int32_t)flags);
        q[4] = 0; /* kind 0: body */
    }
    memcpy(q + body, bson_get_data(doc), doc->len);
    *len = n;
    return p;
}

uint8_t *wire_encode_msg(int32_t request_id, uint32_t flags, const bson_t *doc, size_t *len)
{
    return wire_encode_reply(0, flags, request_id, 0, doc, len);
}
