#include "cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "repl.h"
#include "session.h"
#include "sim.h"
#include "store.h"

enum { F_WRITE = 1, F_READ = 2, F_ADMIN = 4 };

const char *cmd_code_name(int code)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {2, "BadValue"},
        {28, "PathNotViable"},
        {9, "FailedToParse"},
        {13, "Unauthorized"},
        {14, "TypeMismatch"},
        {20, "IllegalOperation"},
        {23, "AlreadyInitialized"},
        {26, "NamespaceNotFound"},
        {40, "ConflictingUpdateOperators"},
        {43, "CursorNotFound"},
        {52, "DollarPrefixedFieldName"},
        {56, "EmptyFieldName"},
        {66, "ImmutableField"},
        {59, "CommandNotFound"},
        {64, "WriteConcernFailed"},
        {67, "CannotCreateIndex"},
        {73, "InvalidNamespace"},
        {85, "IndexOptionsConflict"},
        {86, "IndexKeySpecsConflict"},
        {93, "InvalidReplicaSetConfig"},
        {146, "ExceededMemoryLimit"},
        {175, "QueryPlanKilled"},
        {189, "PrimarySteppedDown"},
        {260, "InvalidResumeToken"},
        {225, "TransactionTooOld"},
        {286, "ChangeStreamHistoryLost"},
        {10107, "NotWritablePrimary"},
        {11000, "DuplicateKey"},
        {10334, "BSONObjectTooLarge"},
        {11602, "InterruptedDueToReplStateChange"},
        {15952, "Location15952"},
        {15955, "Location15955"},
        {15956, "Location15956"},
        {15973, "Location15973"},
        {17419, "Location17419"},
        {13435, "NotPrimaryNoSecondaryOk"},
        {40156, "Location40156"},
        {40324, "Location40324"},
        {40415, "Location40415"},
        {40602, "Location40602"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code)
            return names[i].name;
    return "UnknownError";
}

void cmd_error(bson_t *reply, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bson_init(reply);
    BSON_APPEND_DOUBLE(reply, "ok", 0.0);
    BSON_APPEND_UTF8(reply, "errmsg", msg);
    BSON_APPEND_INT32(reply, "code", code);
    BSON_APPEND_UTF8(reply, "codeName", cmd_code_name(code));
}

int64_t cmd_get_int(const bson_t *cmd, const char *key, int64_t def)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, cmd, key) && BSON_ITER_HOLDS_NUMBER(&it))
        return bson_iter_as_int64(&it);
    return def;
}

int cmd_get_doc(const bson_t *cmd, const char *key, bson_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, cmd, key))
        return 0;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !BSON_ITER_HOLDS_ARRAY(&it))
        return -1;
    uint32_t l;
    const uint8_t *d;
    if (BSON_ITER_HOLDS_DOCUMENT(&it))
        bson_iter_document(&it, &l, &d);
    else
        bson_iter_array(&it, &l, &d);
    return bson_init_static(out, d, l) ? 1 : -1;
}

int cmd_get_doc_at(const bson_iter_t *it, bson_t *out)
{
    uint32_t l;
    const uint8_t *d;
    if (BSON_ITER_HOLDS_DOCUMENT(it))
        bson_iter_document(it, &l, &d);
    else if (BSON_ITER_HOLDS_ARRAY(it))
        bson_iter_array(it, &l, &d);
    else
        return 0;
    return bson_init_static(out, d, l) ? 1 : 0;
}

int cmd_check_read_concern(const bson_t *cmd, bson_t *reply)
{
    bson_t rc;
    bson_iter_t it;
    int have = cmd_get_doc(cmd, "readConcern", &rc);
    if (have == 0)
        return 0;
    if (have < 0) {
        cmd_error(reply, 14, "readConcern must be an object");
        return -1;
    }
    if (bson_iter_init_find(&it, &rc, "level")) {
        static const char *levels[] = {"local", "majority", "available", "linearizable",
                                       "snapshot"};
        const char *lv = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        int ok = 0;
        for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
            ok |= strcmp(lv, levels[i]) == 0;
        if (!ok) {
            cmd_error(reply, 9,
                      "readConcern.level must be either 'local', 'majority', 'available', "
                      "'linearizable', or 'snapshot'");
            return -1;
        }
    }
    if (bson_iter_init_find(&it, &rc, "afterClusterTime") && !BSON_ITER_HOLDS_TIMESTAMP(&it)) {
        cmd_error(reply, 14, "readConcern.afterClusterTime must be a Timestamp");
        return -1;
    }
    return 0;
}

int cmd_retry_check(struct cmd_ctx *c, const bson_t *cmd, struct retry *r, bson_t *reply)
{
    bson_iter_t it;
    r->on = bson_iter_init_find(&it, cmd, "txnNumber") && cmd_get_doc(cmd, "lsid", &r->lsid) == 1;
    r->txn = r->on ? cmd_get_int(cmd, "txnNumber", 0) : 0;
    if (!r->on)
        return 0;
    /* A stale primary checks (and records in) its own copy: what it executes is unknown to the
     * majority side, so a retry there runs the write rather than answering it. */
    switch (sessions_check(msim_sessions(c->sim, c->member), &r->lsid, r->txn, reply, c->now)) {
    case SESSION_RETRY:
        return 1; /* already executed: answer with the remembered reply */
    case SESSION_TOO_OLD:
        cmd_error(reply, 225,
                  "Cannot start transaction %lld on session because a newer transaction has "
                  "already started",
                  (long long)r->txn);
        return 1;
    default:
        return 0;
    }
}

void cmd_retry_done(struct cmd_ctx *c, const struct retry *r, const bson_t *reply)
{
    bson_iter_t it;
    /* Only a write that ran is remembered; a failed command is simply run again. */
    if (r->on && bson_iter_init_find(&it, reply, "ok") && bson_iter_as_bool(&it))
        sessions_record(msim_sessions(c->sim, c->member), &r->lsid, r->txn, reply, c->now);
}

int cmd_secondary_ok(const bson_t *cmd)
{
    bson_t rp;
    bson_iter_t it;
    if (cmd_get_doc(cmd, "$readPreference", &rp) != 1)
        return 0;
    if (!bson_iter_init_find(&it, &rp, "mode") || !BSON_ITER_HOLDS_UTF8(&it))
        return 0;
    return strcmp(bson_iter_utf8(&it, NULL), "primary") != 0;
}

static void cmd_build_info(bson_t *reply)
{
    bson_t va;
    bson_init(reply);
    BSON_APPEND_UTF8(reply, "version", "6.0.0-mongosim");
    BSON_APPEND_UTF8(reply, "gitVersion", "mongosim");
    BSON_APPEND_ARRAY_BEGIN(reply, "versionArray", &va);
    BSON_APPEND_INT32(&va, "0", 6);
    BSON_APPEND_INT32(&va, "1", 0);
    BSON_APPEND_INT32(&va, "2", 0);
    BSON_APPEND_INT32(&va, "3", 0);
    bson_append_array_end(reply, &va);
    BSON_APPEND_INT32(reply, "bits", 64);
    BSON_APPEND_BOOL(reply, "debug", false);
    BSON_APPEND_INT32(reply, "maxBsonObjectSize", 16 * 1024 * 1024);
    BSON_APPEND_UTF8(reply, "mongosim",
                     "a replica-set simulator for tests and demos, not a database");
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

static void cmd_get_parameter(const bson_t *cmd, bson_t *reply)
{
    bson_iter_t it;
    bson_init(reply);
    if (bson_iter_init(&it, cmd)) {
        bson_iter_next(&it); /* getParameter itself */
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            if (strcmp(k, "featureCompatibilityVersion") == 0) {
                bson_t f;
                BSON_APPEND_DOCUMENT_BEGIN(reply, k, &f);
                BSON_APPEND_UTF8(&f, "version", "6.0");
                bson_append_document_end(reply, &f);
            } else if (strcmp(k, "logLevel") == 0) {
                BSON_APPEND_INT32(reply, k, 0);
            }
        }
    }
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

static void cmd_end_sessions(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);

struct entry {
    const char *name;
    int flags;
};

static const struct entry table[] = {
    {"hello", 0},
    {"isMaster", 0},
    {"ismaster", 0},
    {"ping", 0},
    {"buildInfo", 0},
    {"buildinfo", 0},
    {"getParameter", F_ADMIN},
    {"endSessions", 0},
    {"insert", F_WRITE},
    {"update", F_WRITE},
    {"delete", F_WRITE},
    {"findAndModify", F_WRITE},
    {"findandmodify", F_WRITE},
    {"find", F_READ},
    {"distinct", F_READ},
    {"getMore", 0},
    {"killCursors", 0},
    {"count", F_READ},
    {"aggregate", F_READ},
    {"createIndexes", F_WRITE},
    {"listIndexes", F_READ},
    {"drop", F_WRITE},
    {"dropDatabase", F_WRITE},
    {"listCollections", F_READ},
    {"listDatabases", F_READ | F_ADMIN},
    {"replSetGetStatus", F_ADMIN},
    {"replSetStepDown", F_ADMIN},
    {"replSetFreeze", F_ADMIN},
    {"mongosimKill", F_ADMIN},
    {"mongosimRestart", F_ADMIN},
    {"mongosimPause", F_ADMIN},
    {"mongosimResume", F_ADMIN},
    {"mongosimPartition", F_ADMIN},
    {"mongosimHeal", F_ADMIN},
    {"mongosimLatency", F_ADMIN},
    {"mongosimStepDown", F_ADMIN},
    {"mongosimStatus", F_ADMIN},
    {"mongosimRollbacks", F_ADMIN},
    {"replSetInitiate", F_ADMIN},
};

static const struct entry *lookup(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static enum cmd_status run(struct cmd_ctx *c, const char *name, const bson_t *cmd, bson_t *reply)
{
    const struct entry *e = lookup(name);
    if (e == NULL) {
        cmd_error(reply, 59, "no such command: '%s'", name);
        return CMD_REPLY;
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, cmd, "startTransaction") ||
        bson_iter_init_find(&it, cmd, "autocommit")) {
        cmd_error(reply, 20, "mongosim does not support multi-document transactions");
        return CMD_REPLY;
    }
    if ((e->flags & F_ADMIN) && strcmp(c->db, "admin") != 0) {
        cmd_error(reply, 13, "%s may only be run against the admin database.", name);
        return CMD_REPLY;
    }
    int primary = repl_is_primary(c->sim->repl, c->member);
    if ((e->flags & F_WRITE) && !primary) {
        bson_t labels;
        /* A write that had begun (a yielding deleteMany resumed after a step-down) was
         * killed by the step-down, as mongod kills in-progress writes; a new one is refused. */
        if (c->progress > 0)
            cmd_error(reply, 11602, "operation was interrupted");
        else
            cmd_error(reply, 10107, "not primary");
        cmd_append_topology_version(c, reply);
        /* Like mongod: the label only goes on retryable writes (those with a txnNumber). */
        if (bson_iter_init_find(&it, cmd, "txnNumber")) {
            BSON_APPEND_ARRAY_BEGIN(reply, "errorLabels", &labels);
            BSON_APPEND_UTF8(&labels, "0", "RetryableWriteError");
            bson_append_array_end(reply, &labels);
        }
        return CMD_REPLY;
    }
    if ((e->flags & F_READ) && !primary && !cmd_secondary_ok(cmd)) {
        cmd_error(reply, 13435, "not primary and secondaryOk=false");
        cmd_append_topology_version(c, reply);
        return CMD_REPLY;
    }
    if (strcmp(name, "hello") == 0)
        return cmd_hello(c, cmd, reply, 0);
    if (strcmp(name, "isMaster") == 0 || strcmp(name, "ismaster") == 0)
        return cmd_hello(c, cmd, reply, 1);
    if (strcmp(name, "getMore") == 0)
        return cmd_get_more(c, cmd, reply);
    if (strcmp(name, "ping") == 0) {
        bson_init(reply);
        BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    } else if (strcmp(name, "buildInfo") == 0 || strcmp(name, "buildinfo") == 0) {
        cmd_build_info(reply);
    } else if (strcmp(name, "getParameter") == 0) {
        cmd_get_parameter(cmd, reply);
    } else if (strcmp(name, "endSessions") == 0) {
        cmd_end_sessions(c, cmd, reply);
    } else if (strcmp(name, "insert") == 0) {
        cmd_insert(c, cmd, reply);
    } else if (strcmp(name, "update") == 0) {
        cmd_update(c, cmd, reply);
    } else if (strcmp(name, "delete") == 0) {
        cmd_delete(c, cmd, reply);
        if (c->yield)
            return CMD_WAIT;
    } else if (strcmp(name, "findAndModify") == 0 || strcmp(name, "findandmodify") == 0) {
        cmd_find_and_modify(c, cmd, reply);
    } else if (strcmp(name, "find") == 0) {
        cmd_find(c, cmd, reply);
    } else if (strcmp(name, "distinct") == 0) {
        cmd_distinct(c, cmd, reply);
    } else if (strcmp(name, "killCursors") == 0) {
        cmd_kill_cursors(c, cmd, reply);
    } else if (strcmp(name, "count") == 0) {
        cmd_count(c, cmd, reply);
    } else if (strcmp(name, "aggregate") == 0) {
        cmd_aggregate(c, cmd, reply);
    } else if (strcmp(name, "createIndexes") == 0) {
        cmd_create_indexes(c, cmd, reply);
    } else if (strcmp(name, "listIndexes") == 0) {
        cmd_list_indexes(c, cmd, reply);
    } else if (strcmp(name, "drop") == 0) {
        cmd_drop(c, cmd, reply);
    } else if (strcmp(name, "dropDatabase") == 0) {
        cmd_drop_database(c, cmd, reply);
    } else if (strcmp(name, "listCollections") == 0) {
        cmd_list_collections(c, cmd, reply);
    } else if (strcmp(name, "listDatabases") == 0) {
        cmd_list_databases(c, cmd, reply);
    } else if (strcmp(name, "replSetGetStatus") == 0 || strcmp(name, "mongosimStatus") == 0) {
        cmd_repl_status(c, cmd, reply);
    } else if (strcmp(name, "replSetStepDown") == 0) {
        cmd_repl_step_down(c, cmd, reply);
    } else if (strcmp(name, "replSetInitiate") == 0) {
        /* mongosim's set is configured from its flags; answer as an initiated member does. */
        cmd_error(reply, 23, "already initialized");
    } else if (strcmp(name, "replSetFreeze") == 0) {
        cmd_repl_freeze(c, cmd, reply);
    } else if (strcmp(name, "mongosimRollbacks") == 0) {
        cmd_rollbacks(c, cmd, reply);
    } else {
        cmd_fault(c, name, cmd, reply);
    }
    return CMD_REPLY;
}

static void cmd_end_sessions(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    bson_t arr;
    bson_iter_t it;
    if (cmd_get_doc(cmd, "endSessions", &arr) == 1 && bson_iter_init(&it, &arr)) {
        while (bson_iter_next(&it)) {
            bson_t lsid;
            uint32_t l;
            const uint8_t *d;
            if (!BSON_ITER_HOLDS_DOCUMENT(&it))
                continue;
            bson_iter_document(&it, &l, &d);
            if (!bson_init_static(&lsid, d, l))
                continue;
            sessions_end(c->sim->sessions, &lsid);
            if (msim_sessions(c->sim, c->member) != c->sim->sessions)
                sessions_end(msim_sessions(c->sim, c->member), &lsid);
        }
    }
    bson_init(reply);
    BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

enum cmd_status cmd_dispatch(struct cmd_ctx *ctx, const bson_t *cmd, bson_t *reply)
{
    bson_iter_t it;
    const char *name = "";
    if (bson_iter_init(&it, cmd) && bson_iter_next(&it))
        name = bson_iter_key(&it);
    if (ctx->db == NULL)
        ctx->db = "admin";
    enum cmd_status st;
    if (ctx->held) {
        st = cmd_wc_resume(ctx, cmd, reply); /* the write ran; only its write concern waits */
    } else {
        st = run(ctx, name, cmd, reply);
        const struct entry *e = lookup(name);
        if (st == CMD_REPLY && e && (e->flags & F_WRITE) && cmd_wc_hold(ctx, cmd, reply))
            st = CMD_WAIT;
    }
    if (st == CMD_WAIT)
        return st;
    uint32_t t, i;
    int64_t wall;
    msim_last_ts(ctx->sim, ctx->member, &t, &i, &wall);
    bson_t ct, sig;
    BSON_APPEND_DOCUMENT_BEGIN(reply, "$clusterTime", &ct);
    bson_append_timestamp(&ct, "clusterTime", -1, t, i);
    BSON_APPEND_DOCUMENT_BEGIN(&ct, "signature", &sig);
    static const uint8_t zero[20];
    bson_append_binary(&sig, "hash", 4, BSON_SUBTYPE_BINARY, zero, sizeof zero);
    BSON_APPEND_INT64(&sig, "keyId", 0);
    bson_append_document_end(&ct, &sig);
    bson_append_document_end(reply, &ct);
    bson_append_timestamp(reply, "operationTime", -1, t, i);
    if (bson_iter_init_find(&it, reply, "ok") && !bson_iter_as_bool(&it))
        LOG_DEBUG("command_failed member=%d conn=%lld cmd=%s", ctx->member, (long long)ctx->conn_id,
                  name);
    return CMD_REPLY;
}
