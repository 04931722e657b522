/*
 * cmd — command dispatch: looks the command name up, checks the member's role, runs the
 * handler and stamps $clusterTime/operationTime on the reply. Handlers live in cmd.c
 * (misc), hello.c (handshake and monitoring), cmd_crud.c (find, getMore, killCursors, count,
 * distinct), cmd_write.c (insert, update, delete, findAndModify), cmd_agg.c (aggregate, change
 * streams) and cmd_admin.c (indexes, catalog, replica set, faults).
 */
#ifndef MONGOSIM_CMD_H
#define MONGOSIM_CMD_H

#include <bson/bson.h>
#include <stdint.h>

struct msim;
struct cmd_held;

enum cmd_status { CMD_REPLY = 0, CMD_WAIT = 1 };

struct cmd_ctx {
    struct msim *sim;
    int member; /* the member the connection talks to */
    int64_t conn_id;
    int64_t now; /* monotonic ms */
    int64_t
        wait_deadline; /* in: 0 on the first run, else the deadline of the wait; out on CMD_WAIT */
    int close_after;   /* out: close this connection once the reply is written */
    int64_t progress;  /* in/out: a yielding command's work so far (0 on the first run) */
    int yield;         /* out: the handler did part of its work; run it again at once */
    int stream;     /* out: an awaitable hello answered; its reply may carry moreToCome (exhaust) */
    const char *db; /* $db */
    struct cmd_held *held; /* in/out: a write's reply waiting for its write concern, or NULL */
};

/*
 * Runs cmd. Returns CMD_REPLY with the reply initialised in *reply (caller destroys), or
 * CMD_WAIT (reply untouched) when the command waits for a topology change, a new oplog
 * entry or ctx->wait_deadline, or yields (a long deleteMany does its work in chunks so that
 * other connections are served in between), or when a write done by a stale primary waits
 * for its write concern (ctx->held is set then; the write is not run again); the caller
 * runs it again then, with wait_deadline, progress and held kept. A connection closed
 * meanwhile frees held with cmd_held_free.
 */
enum cmd_status cmd_dispatch(struct cmd_ctx *ctx, const bson_t *cmd, bson_t *reply);

/* Helpers shared by the handler files. */

/* Initialises reply as an error: {ok: 0, errmsg, code, codeName}. */
void cmd_error(bson_t *reply, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The codeName of a server error code ("UnknownError" for codes mongosim never sends). */
const char *cmd_code_name(int code);

/* Is the command's read preference one that lets a secondary answer? */
int cmd_secondary_ok(const bson_t *cmd);

/* Appends an int64 or int32 field read from cmd (any numeric type); returns def when absent. */
int64_t cmd_get_int(const bson_t *cmd, const char *key, int64_t def);

/* Copies a document or array field of cmd into *out (a static view). Returns 1, 0 when absent, -1
 * for wrong type. */
int cmd_get_doc(const bson_t *cmd, const char *key, bson_t *out);

/* Copies the document or array the iterator is at into *out (a static view). Returns 1, or 0
 * when it holds something else. */
int cmd_get_doc_at(const bson_iter_t *it, bson_t *out);

/* The command's collection name (the value of its first key), or NULL. */
const char *cmd_coll_name(const bson_t *cmd);

/* Checks readConcern (level local/majority/available/linearizable/snapshot, optional
 * afterClusterTime Timestamp); mongosim is always majority-committed. Returns 0, or -1 with
 * an error in reply. */
int cmd_check_read_concern(const bson_t *cmd, bson_t *reply);

/* The retryable-write memory of one command (lsid + txnNumber). */
struct retry {
    int on;
    bson_t lsid; /* view into the command */
    int64_t txn;
};

/*
 * Looks the command's (lsid, txnNumber) up. Returns 1 with *reply initialised when the
 * write was already executed (the remembered reply) or its txnNumber is stale (225
 * TransactionTooOld); else 0: run the write, then call cmd_retry_done with its reply.
 */
int cmd_retry_check(struct cmd_ctx *c, const bson_t *cmd, struct retry *r, bson_t *reply);
void cmd_retry_done(struct cmd_ctx *c, const struct retry *r, const bson_t *reply);

/*
 * Write concern on a stale primary, in cmd_wc.c. cmd_wc_hold: after a write that succeeded
 * (ok: 1) on a stale primary whose write concern waits for other members, takes the reply
 * (destroys *reply), sets c->held and c->wait_deadline (wtimeout) and returns 1; else 0
 * (reply untouched: answer it). cmd_wc_resume: CMD_WAIT while the member is still primary
 * and wtimeout has not passed; else CMD_REPLY with the held reply plus its
 * writeConcernError (189 PrimarySteppedDown or 64 WriteConcernFailed), held freed.
 */
int cmd_wc_hold(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
enum cmd_status cmd_wc_resume(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);

/* Frees a held reply. Accepts NULL. */
void cmd_held_free(struct cmd_held *h);

/* Handlers. Each initialises *reply. */

/*
 * hello / isMaster (legacy set: the isMaster field names). An awaitable hello (topologyVersion
 * and maxAwaitTimeMS) whose topologyVersion is this member's current one waits (CMD_WAIT) for
 * a topology change or maxAwaitTimeMS; when it answers with maxAwaitTimeMS > 0 it sets
 * c->stream, so the caller may stream it (OP_MSG exhaustAllowed). In hello.c.
 */
enum cmd_status cmd_hello(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply, int legacy);

/*
 * The next invocation of a streamed hello: cmd with its topologyVersion replaced by the one of
 * reply, so that the next streamed reply waits for the change after this one (as mongod's
 * synthetic exhaust request does). Returns 0 with *next initialised (caller destroys), or -1
 * when reply has no topologyVersion.
 */
int cmd_hello_next(const bson_t *cmd, const bson_t *reply, bson_t *next)
    __attribute__((warn_unused_result));

/* Appends this member's topologyVersion to reply, as mongod does on state-change errors
 * (NotWritablePrimary, NotPrimaryNoSecondaryOk, InterruptedDueToReplStateChange). */
void cmd_append_topology_version(const struct cmd_ctx *c, bson_t *reply);

void cmd_insert(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_find(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
enum cmd_status cmd_get_more(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_kill_cursors(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_count(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_distinct(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_update(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_delete(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_find_and_modify(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_aggregate(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_create_indexes(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_list_indexes(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_drop(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_drop_database(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_list_collections(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_list_databases(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_repl_status(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_repl_step_down(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_repl_freeze(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);
void cmd_fault(struct cmd_ctx *c, const char *name, const bson_t *cmd, bson_t *reply);
void cmd_rollbacks(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply);

/*
 * Builds a cursor reply {cursor: {firstBatch|nextBatch, id, ns}, ok: 1} taking up to
 * batch documents of cur (all that fit in 16 MB when batch < 0, none when 0); closes cur
 * when exhausted (id 0). Defined in cmd_crud.c.
 */
struct cursor;
void cmd_cursor_reply(struct cmd_ctx *c, struct cursor *cur, const char *ns, int64_t batch,
                      int first, bson_t *reply);

/* getMore on a change-stream cursor: waits (CMD_WAIT) up to maxTimeMS for an event. In
 * cmd_agg.c. */
enum cmd_status cmd_change_stream_more(struct cmd_ctx *c, struct cursor *cur, const bson_t *cmd,
                                       const char *ns, int64_t batch, bson_t *reply);

#endif
