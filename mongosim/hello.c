/*
 * hello — the handshake and monitoring command (hello, isMaster): the member's view of the
 * replica set, awaitable hello (held until the topology changes), the next invocation of a
 * streamed (exhaust) hello, and the topologyVersion that state-change errors carry.
 */
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "repl.h"
#include "sim.h"
#include "store.h"

static void append_optime(bson_t *b, const char *key, uint32_t t, uint32_t i, int64_t term)
{
    bson_t o;
    bson_append_document_begin(b, key, -1, &o);
    bson_append_timestamp(&o, "ts", 2, t, i);
    BSON_APPEND_INT64(&o, "t", term);
    bson_append_document_end(b, &o);
}

/* Does the awaitable-hello's topologyVersion still describe this member? */
static int tv_current(const bson_t *cmd, const struct member *m)
{
    bson_t tv;
    bson_iter_t it;
    if (cmd_get_doc(cmd, "topologyVersion", &tv) != 1)
        return 0;
    if (!bson_iter_init_find(&it, &tv, "processId") || !BSON_ITER_HOLDS_OID(&it) ||
        !bson_oid_equal(bson_iter_oid(&it), &m->process_id))
        return 0;
    return cmd_get_int(&tv, "counter", -1) == m->tv_counter;
}

static void append_tv(bson_t *b, const struct member *m)
{
    bson_t tv;
    BSON_APPEND_DOCUMENT_BEGIN(b, "topologyVersion", &tv);
    BSON_APPEND_OID(&tv, "processId", &m->process_id);
    BSON_APPEND_INT64(&tv, "counter", m->tv_counter);
    bson_append_document_end(b, &tv);
}

void cmd_append_topology_version(const struct cmd_ctx *c, bson_t *reply)
{
    append_tv(reply, &c->sim->repl->m[c->member]);
}

enum cmd_status cmd_hello(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply, int legacy)
{
    struct repl *r = c->sim->repl;
    const struct member *m = &r->m[c->member];
    int64_t await = cmd_get_int(cmd, "maxAwaitTimeMS", -1);
    bson_iter_t it;
    bson_t tvreq;
    if (bson_iter_init_find(&it, cmd, "maxAwaitTimeMS") && (await < 0 || await > 3600000)) {
        cmd_error(reply, 2, "maxAwaitTimeMS must be between 0 and 3600000");
        return CMD_REPLY;
    }
    if (await >= 0 && tv_current(cmd, m)) {
        if (c->wait_deadline == 0) {
            c->wait_deadline = c->now + await;
            return CMD_WAIT;
        }
        if (c->now < c->wait_deadline)
            return CMD_WAIT;
    }
    /* An awaitable hello may be streamed. Not with maxAwaitTimeMS 0: that stream would be an
     * endless run of replies; one reply without moreToCome is what the spec allows. */
    c->stream = await > 0 && cmd_get_doc(cmd, "topologyVersion", &tvreq) == 1;
    int primary = repl_is_primary(r, c->member);
    int64_t term = repl_term_of(r, c->member);
    uint32_t t, i;
    int64_t wall;
    msim_last_ts(c->sim, c->member, &t, &i, &wall); /* a cut-off member: what it had then */
    bson_init(reply);
    BSON_APPEND_BOOL(reply, "helloOk", true);
    bson_t hosts, lw;
    append_tv(reply, m);
    BSON_APPEND_ARRAY_BEGIN(reply, "hosts", &hosts);
    for (int k = 0; k < r->n; k++) {
        char kb[16];
        const char *key;
        bson_uint32_to_string((uint32_t)k, &key, kb, sizeof kb);
        BSON_APPEND_UTF8(&hosts, key, r->m[k].host);
    }
    bson_append_array_end(reply, &hosts);
    BSON_APPEND_UTF8(reply, "setName", c->sim->cfg->set_name);
    BSON_APPEND_INT32(reply, "setVersion", 1);
    BSON_APPEND_BOOL(reply, legacy ? "ismaster" : "isWritablePrimary", primary);
    BSON_APPEND_BOOL(reply, "secondary", !primary);
    /* A member cut off from its peers sees no primary (a real one would name none), unless
     * it is a stale primary, which still names itself. */
    if (primary)
        BSON_APPEND_UTF8(reply, "primary", m->host);
    else if (r->primary >= 0 && repl_sees(r, c->member, r->primary))
        BSON_APPEND_UTF8(reply, "primary", r->m[r->primary].host);
    BSON_APPEND_UTF8(reply, "me", m->host);
    if (primary)
        repl_append_election_id(r, c->member, reply, "electionId");
    BSON_APPEND_DOCUMENT_BEGIN(reply, "lastWrite", &lw);
    append_optime(&lw, "opTime", t, i, term);
    BSON_APPEND_DATE_TIME(&lw, "lastWriteDate", wall);
    append_optime(&lw, "majorityOpTime", t, i, term);
    BSON_APPEND_DATE_TIME(&lw, "majorityWriteDate", wall);
    bson_append_document_end(reply, &lw);
    BSON_APPEND_INT32(reply, "maxBsonObjectSize", 16 * 1024 * 1024);
    BSON_APPEND_INT32(reply, "maxMessageSizeBytes", 48000000);
    BSON_APPEND_INT32(reply, "maxWriteBatchSize", 100000);
    BSON_APPEND_DATE_TIME(reply, "localTime", msim_wall_ms());
    BSON_APPEND_INT32(reply, "logicalSessionTimeoutMinutes", 30);
    BSON_APPEND_INT64(reply, "connectionId", c->conn_id);
    BSON_APPEND_INT32(reply, "minWireVersion", 0);
    BSON_APPEND_INT32(reply, "maxWireVersion", 17);
    BSON_APPEND_BOOL(reply, "readOnly", false);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    return CMD_REPLY;
}

int cmd_hello_next(const bson_t *cmd, const bson_t *reply, bson_t *next)
{
    bson_t tv;
    bson_iter_t it;
    if (cmd_get_doc(reply, "topologyVersion", &tv) != 1 || !bson_iter_init(&it, cmd))
        return -1;
    bson_init(next);
    while (bson_iter_next(&it)) {
        if (strcmp(bson_iter_key(&it), "topologyVersion") != 0 &&
            !bson_append_iter(next, NULL, 0, &it)) {
            bson_destroy(next);
            return -1;
        }
    }
    BSON_APPEND_DOCUMENT(next, "topologyVersion", &tv);
    return 0;
}
