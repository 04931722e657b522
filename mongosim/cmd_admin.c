/* cmd_admin — indexes, catalog (list/drop), replica-set commands and the fault commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "cursor.h"
#include "log.h"
#include "query.h"
#include "repl.h"
#include "rollback.h"
#include "sim.h"
#include "store.h"

static const char *first_utf8(const bson_t *cmd)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it))
        return NULL;
    const char *s = bson_iter_utf8(&it, NULL);
    return *s ? s : NULL;
}

/* The data set a write goes to: the shared one, or a stale primary's copy of it (what its
 * clients read; the majority never sees it, and the heal rolls it back). */
static struct store *wstore(const struct cmd_ctx *c)
{
    return msim_store(c->sim, c->member);
}

void cmd_create_indexes(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = first_utf8(cmd);
    bson_t specs;
    bson_iter_t it;
    if (coll == NULL) {
        cmd_error(reply, 73, "createIndexes needs a collection name");
        return;
    }
    if (cmd_get_doc(cmd, "indexes", &specs) != 1) {
        cmd_error(reply, 9, "createIndexes needs an indexes array");
        return;
    }
    struct coll *existing = store_coll(wstore(c), c->db, coll, 0);
    int created_coll = existing == NULL;
    bson_t tmp = BSON_INITIALIZER;
    if (existing)
        coll_list_indexes(existing, &tmp);
    int before = created_coll ? 1 : (int)bson_count_keys(&tmp);
    bson_destroy(&tmp);
    if (bson_iter_init(&it, &specs)) {
        while (bson_iter_next(&it)) {
            bson_t spec, key;
            uint32_t l;
            const uint8_t *d;
            bson_iter_t f;
            char err[512] = "";
            if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
                cmd_error(reply, 14, "index specifications must be objects");
                return;
            }
            bson_iter_document(&it, &l, &d);
            if (!bson_init_static(&spec, d, l) || cmd_get_doc(&spec, "key", &key) != 1 ||
                !bson_iter_init_find(&f, &spec, "name") || !BSON_ITER_HOLDS_UTF8(&f)) {
                cmd_error(reply, 9, "each index needs a key document and a name");
                return;
            }
            const char *name = bson_iter_utf8(&f, NULL);
            int unique = bson_iter_init_find(&f, &spec, "unique") && bson_iter_as_bool(&f);
            int sparse = bson_iter_init_find(&f, &spec, "sparse") && bson_iter_as_bool(&f);
            int code = store_create_index(wstore(c), c->db, coll, name, &key, unique, sparse, err,
                                          sizeof err);
            if (code != 0) {
                cmd_error(reply, code, "%s", err);
                return;
            }
        }
    }
    bson_t after = BSON_INITIALIZER;
    coll_list_indexes(store_coll(wstore(c), c->db, coll, 1), &after);
    bson_init(reply);
    BSON_APPEND_INT32(reply, "numIndexesBefore", before);
    BSON_APPEND_INT32(reply, "numIndexesAfter", (int32_t)bson_count_keys(&after));
    BSON_APPEND_BOOL(reply, "createdCollectionAutomatically", created_coll);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    bson_destroy(&after);
}

/* Turns the array arr of documents into an exhausted-or-not cursor reply. */
static void array_cursor(struct cmd_ctx *c, const bson_t *arr, const char *ns, bson_t *reply)
{
    size_t n = bson_count_keys(arr), i = 0;
    bson_t **docs = malloc((n + 1) * sizeof *docs);
    bson_iter_t it;
    if (docs == NULL) {
        cmd_error(reply, 146, "out of memory");
        return;
    }
    if (bson_iter_init(&it, arr)) {
        while (bson_iter_next(&it) && i < n) {
            uint32_t l;
            const uint8_t *d;
            bson_iter_document(&it, &l, &d);
            docs[i++] = bson_new_from_data(d, l);
        }
    }
    struct cursor *cur = cursors_add(c->sim->cursors, c->member, ns, docs, i, NULL, NULL, c->now);
    if (cur == NULL) {
        cmd_error(reply, 146, "out of memory");
        return;
    }
    cmd_cursor_reply(c, cur, ns, -1, 1, reply);
}

void cmd_list_indexes(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = first_utf8(cmd);
    char ns[260];
    struct coll *cl = coll ? store_coll(msim_store(c->sim, c->member), c->db, coll, 0) : NULL;
    if (cl == NULL) {
        cmd_error(reply, 26, "ns does not exist: %s.%s", c->db, coll ? coll : "");
        return;
    }
    bson_t arr = BSON_INITIALIZER;
    coll_list_indexes(cl, &arr);
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll);
    array_cursor(c, &arr, ns, reply);
    bson_destroy(&arr);
}

void cmd_drop(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const char *coll = first_utf8(cmd);
    char ns[260];
    struct coll *cl = coll ? store_coll(wstore(c), c->db, coll, 0) : NULL;
    if (cl == NULL) {
        cmd_error(reply, 26, "ns not found");
        return;
    }
    bson_t idx = BSON_INITIALIZER;
    coll_list_indexes(cl, &idx);
    int nidx = (int)bson_count_keys(&idx);
    bson_destroy(&idx);
    snprintf(ns, sizeof ns, "%s.%s", c->db, coll);
    store_drop(wstore(c), c->db, coll);
    c->sim->changed = 1;
    bson_init(reply);
    BSON_APPEND_INT32(reply, "nIndexesWas", nidx);
    BSON_APPEND_UTF8(reply, "ns", ns);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void cmd_drop_database(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    (void)cmd;
    if (store_drop_db(wstore(c), c->db) > 0)
        c->sim->changed = 1;
    bson_init(reply);
    BSON_APPEND_UTF8(reply, "dropped", c->db);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void cmd_list_collections(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    bson_t filter, arr = BSON_INITIALIZER;
    char err[256] = "", ns[260];
    int hf = cmd_get_doc(cmd, "filter", &filter);
    if (hf < 0 || (hf == 1 && query_check(&filter, err, sizeof err) != 0)) {
        cmd_error(reply, 2, "%s", err[0] ? err : "filter must be an object");
        return;
    }
    const char *db, *name;
    uint32_t k = 0;
    for (size_t i = 0; store_coll_at(msim_store(c->sim, c->member), i, &db, &name); i++) {
        if (strcmp(db, c->db) != 0)
            continue;
        bson_t e = BSON_INITIALIZER, opts, info, idx;
        BSON_APPEND_UTF8(&e, "name", name);
        BSON_APPEND_UTF8(&e, "type", "collection");
        BSON_APPEND_DOCUMENT_BEGIN(&e, "options", &opts);
        bson_append_document_end(&e, &opts);
        BSON_APPEND_DOCUMENT_BEGIN(&e, "info", &info);
        BSON_APPEND_BOOL(&info, "readOnly", false);
        bson_append_document_end(&e, &info);
        BSON_APPEND_DOCUMENT_BEGIN(&e, "idIndex", &idx);
        BSON_APPEND_INT32(&idx, "v", 2);
        bson_t key;
        BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
        BSON_APPEND_INT32(&key, "_id", 1);
        bson_append_document_end(&idx, &key);
        BSON_APPEND_UTF8(&idx, "name", "_id_");
        bson_append_document_end(&e, &idx);
        if (hf != 1 || query_match(&e, &filter)) {
            char kb[16];
            const char *key_s;
            bson_uint32_to_string(k++, &key_s, kb, sizeof kb);
            bson_append_document(&arr, key_s, -1, &e);
        }
        bson_destroy(&e);
    }
    snprintf(ns, sizeof ns, "%s.$cmd.listCollections", c->db);
    array_cursor(c, &arr, ns, reply);
    bson_destroy(&arr);
}

void cmd_list_databases(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    (void)cmd;
    bson_t arr;
    const char *db, *name, *seen[256];
    size_t nseen = 0;
    bson_init(reply);
    BSON_APPEND_ARRAY_BEGIN(reply, "databases", &arr);
    for (size_t i = 0; store_coll_at(msim_store(c->sim, c->member), i, &db, &name) && nseen < 256;
         i++) {
        size_t j;
        for (j = 0; j < nseen && strcmp(seen[j], db) != 0; j++)
            ;
        if (j < nseen)
            continue;
        seen[nseen] = db;
        char kb[16];
        const char *k;
        bson_uint32_to_string((uint32_t)nseen++, &k, kb, sizeof kb);
        bson_t e;
        bson_append_document_begin(&arr, k, -1, &e);
        BSON_APPEND_UTF8(&e, "name", db);
        BSON_APPEND_INT64(&e, "sizeOnDisk", 0);
        BSON_APPEND_BOOL(&e, "empty", false);
        bson_append_document_end(&arr, &e);
    }
    bson_append_array_end(reply, &arr);
    BSON_APPEND_INT64(reply, "totalSize", 0);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void cmd_repl_status(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    (void)cmd;
    struct repl *r = c->sim->repl;
    bson_t arr;
    bson_init(reply);
    BSON_APPEND_UTF8(reply, "set", c->sim->cfg->set_name);
    BSON_APPEND_DATE_TIME(reply, "date", msim_wall_ms());
    BSON_APPEND_INT32(reply, "myState", repl_is_primary(r, c->member) ? 1 : 2);
    BSON_APPEND_INT64(reply, "term", repl_term_of(r, c->member)); /* a stale primary's is older */
    BSON_APPEND_ARRAY_BEGIN(reply, "members", &arr);
    for (int i = 0; i < r->n; i++) {
        const struct member *m = &r->m[i];
        char kb[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, kb, sizeof kb);
        bson_t e;
        /* As this member sees it: a member across a partition is unreachable. */
        int reach = m->up && repl_sees(r, c->member, i);
        int state = !reach ? 8 : repl_is_primary(r, i) ? 1 : 2;
        bson_append_document_begin(&arr, k, -1, &e);
        BSON_APPEND_INT32(&e, "_id", i);
        BSON_APPEND_UTF8(&e, "name", m->host);
        BSON_APPEND_DOUBLE(&e, "health", reach ? 1.0 : 0.0);
        BSON_APPEND_INT32(&e, "state", state);
        BSON_APPEND_UTF8(&e, "stateStr",
                         state == 1   ? "PRIMARY"
                         : state == 2 ? "SECONDARY"
                                      : "(not reachable/healthy)");
        /* Its optime as this member knows it: none for one it cannot reach (as mongod
         * reports a member it has no heartbeat from); a cut-off member's lags. */
        uint32_t ot = 0, oi = 0;
        int64_t owall = 0;
        if (reach)
            msim_last_ts(c->sim, i, &ot, &oi, &owall);
        bson_t o;
        BSON_APPEND_DOCUMENT_BEGIN(&e, "optime", &o);
        bson_append_timestamp(&o, "ts", 2, ot, oi);
        BSON_APPEND_INT64(&o, "t", reach ? repl_term_of(r, c->member) : -1);
        bson_append_document_end(&e, &o);
        BSON_APPEND_DATE_TIME(&e, "optimeDate", owall);
        BSON_APPEND_BOOL(&e, "self", i == c->member);
        BSON_APPEND_BOOL(&e, "mongosimPaused", m->paused);
        BSON_APPEND_BOOL(&e, "mongosimPartitioned", m->partitioned);
        BSON_APPEND_INT64(&e, "mongosimLatencyMS", m->latency_ms);
        bson_append_document_end(&arr, &e);
    }
    bson_append_array_end(reply, &arr);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void cmd_rollbacks(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    (void)cmd;
    bson_init(reply);
    rollbacks_report(c->sim->rollbacks, reply);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

static long step_down_secs(const bson_t *cmd, const char *key, long def)
{
    int64_t v = cmd_get_int(cmd, key, def);
    return v < 0 ? 0 : v > 86400 ? 86400 : (long)v;
}

void cmd_repl_step_down(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    long secs = step_down_secs(cmd, "replSetStepDown", 60);
    if (repl_step_down(c->sim->repl, c->member, secs, c->now) != 0) {
        cmd_error(reply, 189, "not primary so can't step down");
        return;
    }
    bson_init(reply);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void cmd_repl_freeze(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    if (repl_is_primary(c->sim->repl, c->member)) {
        cmd_error(reply, 95,
                  "cannot freeze node when primary or running for election. state: Primary");
        return;
    }
    repl_freeze(c->sim->repl, c->member, step_down_secs(cmd, "replSetFreeze", 0), c->now);
    bson_init(reply);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

/* Resolves the target member of a fault command: member index, host, or the primary. */
static int fault_target(struct cmd_ctx *c, const bson_t *cmd, int need_explicit)
{
    struct repl *r = c->sim->repl;
    bson_iter_t it;
    if (bson_iter_init_find(&it, cmd, "member") && BSON_ITER_HOLDS_NUMBER(&it)) {
        int64_t i = bson_iter_as_int64(&it);
        return i >= 0 && i < r->n ? (int)i : -2;
    }
    if (bson_iter_init_find(&it, cmd, "host") && BSON_ITER_HOLDS_UTF8(&it)) {
        int i = repl_find_host(r, bson_iter_utf8(&it, NULL));
        return i >= 0 ? i : -2;
    }
    return need_explicit ? -2 : r->primary;
}

void cmd_fault(struct cmd_ctx *c, const char *name, const bson_t *cmd, bson_t *reply)
{
    struct repl *r = c->sim->repl;
    int explicit_needed = strcmp(name, "mongosimRestart") == 0 ||
                          strcmp(name, "mongosimResume") == 0 || strcmp(name, "mongosimHeal") == 0;
    int idx = fault_target(c, cmd, explicit_needed);
    if (idx == -2) {
        cmd_error(reply, 2, "%s: give member (0..%d) or host of a member", name, r->n - 1);
        return;
    }
    if (idx < 0) {
        cmd_error(reply, 10107, "%s: there is no primary right now; name a member", name);
        return;
    }
    int rc = 0;
    if (strcmp(name, "mongosimKill") == 0) {
        rc = repl_kill(r, idx, c->now);
        if (rc == 0) {
            cursors_kill_member(c->sim->cursors, idx);
            if (idx == c->member)
                c->close_after = 1;
        }
    } else if (strcmp(name, "mongosimRestart") == 0) {
        rc = repl_restart(r, idx, c->now);
    } else if (strcmp(name, "mongosimPause") == 0) {
        rc = repl_pause(r, idx, c->now);
    } else if (strcmp(name, "mongosimResume") == 0) {
        rc = repl_resume(r, idx, c->now);
    } else if (strcmp(name, "mongosimPartition") == 0) {
        /* A cut-off member receives nothing more (one alone has no one to be cut from). */
        if (r->n > 1 && !r->m[idx].partitioned && msim_cut(c->sim, idx) != 0) {
            cmd_error(reply, 146, "out of memory");
            return;
        }
        rc = repl_partition(r, idx, c->now);
    } else if (strcmp(name, "mongosimHeal") == 0) {
        rc = repl_heal(r, idx, c->now);
        if (rc == 0)
            msim_rejoin(c->sim, idx); /* it catches up from the others' oplog */
    } else if (strcmp(name, "mongosimLatency") == 0) {
        int64_t ms = cmd_get_int(cmd, "ms", -1);
        if (ms < 0 || ms > 600000) {
            cmd_error(reply, 2, "mongosimLatency needs ms between 0 and 600000");
            return;
        }
        r->m[idx].latency_ms = (long)ms;
        LOG_INFO("member_latency member=%d ms=%lld", idx, (long long)ms);
    } else if (strcmp(name, "mongosimStepDown") == 0) {
        rc = repl_step_down(r, idx, step_down_secs(cmd, "secs", 10), c->now);
    } else {
        cmd_error(reply, 59, "no such command: '%s'", name);
        return;
    }
    if (rc != 0) {
        cmd_error(reply, 20, "%s: member %d is not in a state this applies to", name, idx);
        return;
    }
    bson_init(reply);
    BSON_APPEND_INT32(reply, "member", idx);
    BSON_APPEND_UTF8(reply, "host", r->m[idx].host);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}
