/*
 * cmd_wc — write concern on a stale primary. A primary cut off from the others
 * (mongosimPartition) that has not stepped down yet acknowledges w: 0 and w: 1 writes at
 * once; a write that waits for more members (w: "majority", any w above 1, a tag, or no
 * writeConcern at all: MongoDB 5.0+'s implicit default is majority, and mongosim says it is
 * 6.0) has its reply held, as mongod holds it while replication cannot reach a majority,
 * until the member steps down (writeConcernError 189 PrimarySteppedDown) or wtimeout passes
 * (64 WriteConcernFailed). Elsewhere every write concern is satisfied at once: the members
 * share one data set.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "repl.h"
#include "sim.h"

struct cmd_held {
    bson_t *reply; /* the write's own result, without $clusterTime */
    int64_t term;  /* the term the stale primary wrote it in */
    bson_t *wc;    /* the write concern waited for, as errInfo.writeConcern reports it */
};

void cmd_held_free(struct cmd_held *h)
{
    if (h == NULL)
        return;
    bson_destroy(h->reply);
    bson_destroy(h->wc);
    free(h);
}

/*
 * Does cmd's write concern wait for members other than this one? Fills wc with the write
 * concern as mongod reports it ({w, wtimeout, provenance}) and *wtimeout (0: none).
 */
static int waits(const bson_t *cmd, bson_t *wc, int64_t *wtimeout)
{
    bson_t given;
    bson_iter_t it;
    int have = cmd_get_doc(cmd, "writeConcern", &given) == 1;
    *wtimeout = have ? cmd_get_int(&given, "wtimeout", 0) : 0;
    if (*wtimeout < 0)
        *wtimeout = 0;
    int wait = 1;
    if (have && bson_iter_init_find(&it, &given, "w") &&
        (BSON_ITER_HOLDS_NUMBER(&it) || BSON_ITER_HOLDS_UTF8(&it))) {
        if (BSON_ITER_HOLDS_NUMBER(&it))
            wait = bson_iter_as_int64(&it) > 1;
        bson_append_iter(wc, "w", 1, &it);
        BSON_APPEND_INT64(wc, "wtimeout", *wtimeout);
        BSON_APPEND_UTF8(wc, "provenance", "clientSupplied");
    } else {
        /* No w: the cluster-wide default, which in MongoDB 5.0+ is majority. */
        BSON_APPEND_UTF8(wc, "w", "majority");
        BSON_APPEND_INT64(wc, "wtimeout", *wtimeout);
        BSON_APPEND_UTF8(wc, "provenance", "implicitDefault");
    }
    return wait;
}

int cmd_wc_hold(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    const struct repl *r = c->sim->repl;
    bson_iter_t it;
    /* A command error (ok: 0) wrote nothing and waits for nothing. */
    if (r->stale != c->member || !bson_iter_init_find(&it, reply, "ok") || !bson_iter_as_bool(&it))
        return 0;
    bson_t *wc = bson_new();
    int64_t wtimeout;
    if (!waits(cmd, wc, &wtimeout)) {
        bson_destroy(wc);
        return 0;
    }
    struct cmd_held *h = calloc(1, sizeof *h);
    if (h == NULL) {
        bson_destroy(wc);
        return 0; /* out of memory: answered without waiting */
    }
    h->reply = bson_copy(reply);
    h->term = r->stale_term;
    h->wc = wc;
    bson_destroy(reply);
    c->held = h;
    c->wait_deadline = wtimeout > 0 ? c->now + wtimeout : INT64_MAX;
    return 1;
}

enum cmd_status cmd_wc_resume(struct cmd_ctx *c, const bson_t *cmd, bson_t *reply)
{
    struct cmd_held *h = c->held;
    const struct repl *r = c->sim->repl;
    int still = r->stale == c->member && r->stale_term == h->term;
    if (still && c->now < c->wait_deadline)
        return CMD_WAIT;
    /* Still primary: wtimeout passed. Else it stepped down (noticed, healed, told to). */
    int code = still ? 64 : 189;
    bson_t wce, info, labels;
    bson_iter_t it;
    bson_copy_to(h->reply, reply);
    BSON_APPEND_DOCUMENT_BEGIN(reply, "writeConcernError", &wce);
    BSON_APPEND_INT32(&wce, "code", code);
    BSON_APPEND_UTF8(&wce, "codeName", cmd_code_name(code));
    BSON_APPEND_UTF8(&wce, "errmsg",
                     still ? "waiting for replication timed out"
                           : "Primary stepped down while waiting for replication");
    BSON_APPEND_DOCUMENT_BEGIN(&wce, "errInfo", &info);
    if (still)
        BSON_APPEND_BOOL(&info, "wtimeout", true);
    BSON_APPEND_DOCUMENT(&info, "writeConcern", h->wc);
    bson_append_document_end(&wce, &info);
    bson_append_document_end(reply, &wce);
    /* Like mongod: a retryable write (with a txnNumber) whose write concern failed with a
     * state change is labelled, so the driver retries it on the new primary. */
    if (!still && bson_iter_init_find(&it, cmd, "txnNumber")) {
        BSON_APPEND_ARRAY_BEGIN(reply, "errorLabels", &labels);
        BSON_APPEND_UTF8(&labels, "0", "RetryableWriteError");
        bson_append_array_end(reply, &labels);
    }
    cmd_held_free(h);
    c->held = NULL;
    return CMD_REPLY;
}
