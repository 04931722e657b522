#include "sim.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "cursor.h"
#include "log.h"
#include "repl.h"
#include "rollback.h"
#include "session.h"
#include "store.h"

/* Retryable-write sessions remembered (least recently used go first). */
#define MSIM_SESSIONS 100000

struct msim *msim_new(const struct mongosim_config *cfg, char *err, size_t errlen)
{
    struct msim *s = calloc(1, sizeof *s);
    if (s == NULL)
        goto oom;
    s->cfg = cfg;
    s->store = store_new((size_t)cfg->oplog_max, (size_t)cfg->oplog_mb * 1024 * 1024);
    s->repl = calloc(1, sizeof *s->repl);
    s->cursors = cursors_new();
    s->sessions = sessions_new(MSIM_SESSIONS);
    s->rollbacks = rollbacks_new(MSIM_ROLLBACK_OPS, MSIM_ROLLBACK_BYTES);
    if (!s->store || !s->repl || !s->cursors || !s->sessions || !s->rollbacks)
        goto oom;
    repl_init(s->repl, cfg, &s->changed);
    return s;
oom:
    msim_free(s);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void msim_free(struct msim *s)
{
    if (s == NULL)
        return;
    sessions_free(s->sessions);
    rollbacks_free(s->rollbacks);
    cursors_free(s->cursors);
    for (int i = 0; i < MONGOSIM_MAX_MEMBERS; i++) {
        store_free(s->cut[i].data);
        sessions_free(s->cut[i].sessions);
    }
    free(s->repl);
    store_free(s->store);
    free(s);
}

int msim_cut(struct msim *sim, int member)
{
    struct msim_cut *c = &sim->cut[member];
    if (c->data != NULL)
        return 0;
    /* Its own oplog holds what it writes while a stale primary: the rollback at the heal. */
    c->data = store_snapshot(sim->store, MSIM_ROLLBACK_OPS, MSIM_ROLLBACK_BYTES);
    c->sessions = sessions_copy(sim->sessions);
    if (c->data == NULL || c->sessions == NULL) {
        store_free(c->data);
        sessions_free(c->sessions);
        *c = (struct msim_cut){0};
        return -1;
    }
    c->seq = store_last_seq(sim->store);
    store_last_ts(sim->store, &c->ts_t, &c->ts_i);
    c->wall_ms = store_last_wall(sim->store);
    return 0;
}

void msim_rejoin(struct msim *sim, int member)
{
    struct msim_cut *c = &sim->cut[member];
    if (c->data == NULL)
        return;
    struct rollback_sum sum;
    rollbacks_record(sim->rollbacks, member, c->data, &sum);
    if (sum.ops > 0)
        LOG_WARN("rollback member=%d host=%s ops=%llu inserts=%llu updates=%llu deletes=%llu "
                 "others=%llu unlisted=%llu",
                 member, sim->repl->m[member].host, (unsigned long long)sum.ops,
                 (unsigned long long)sum.inserts, (unsigned long long)sum.updates,
                 (unsigned long long)sum.deletes, (unsigned long long)sum.others,
                 (unsigned long long)sum.unlisted);
    cursors_kill_store(sim->cursors, c->data);
    store_free(c->data);
    sessions_free(c->sessions); /* its txnNumbers were never the majority's */
    *c = (struct msim_cut){0};
    sim->changed = 1; /* its change streams have entries to read again */
}

struct store *msim_store(const struct msim *sim, int member)
{
    return sim->cut[member].data ? sim->cut[member].data : sim->store;
}

struct sessions *msim_sessions(const struct msim *sim, int member)
{
    return sim->cut[member].sessions ? sim->cut[member].sessions : sim->sessions;
}

uint64_t msim_last_seq(const struct msim *sim, int member)
{
    return sim->cut[member].data ? sim->cut[member].seq : store_last_seq(sim->store);
}

void msim_last_ts(const struct msim *sim, int member, uint32_t *t, uint32_t *i, int64_t *wall)
{
    const struct msim_cut *c = &sim->cut[member];
    if (c->data) {
        *t = c->ts_t;
        *i = c->ts_i;
        *wall = c->wall_ms;
        return;
    }
    store_last_ts(sim->store, t, i);
    *wall = store_last_wall(sim->store);
}
