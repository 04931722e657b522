#include "sim.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "cursor.h"
#include "repl.h"
#include "session.h"
#include "store.h"

struct msim *msim_new(const struct mongosim_config *cfg, char *err, size_t errlen)
{
    struct msim *s = calloc(1, sizeof *s);
    if (s == NULL)
        goto oom;
    s->cfg = cfg;
    s->store = store_new((size_t)cfg->oplog_max, (size_t)cfg->oplog_mb * 1024 * 1024);
    s->repl = calloc(1, sizeof *s->repl);
    s->cursors = cursors_new();
    s->sessions = sessions_new(100000);
    if (!s->store || !s->repl || !s->cursors || !s->sessions)
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
    cursors_free(s->cursors);
    for (int i = 0; i < MONGOSIM_MAX_MEMBERS; i++)
        store_free(s->cut[i].data);
    free(s->repl);
    store_free(s->store);
    free(s);
}

int msim_cut(struct msim *sim, int member)
{
    struct msim_cut *c = &sim->cut[member];
    if (c->data != NULL)
        return 0;
    c->data = store_snapshot(sim->store);
    if (c->data == NULL)
        return -1;
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
    cursors_kill_store(sim->cursors, c->data);
    store_free(c->data);
    *c = (struct msim_cut){0};
    sim->changed = 1; /* its change streams have entries to read again */
}

struct store *msim_store(const struct msim *sim, int member)
{
    return sim->cut[member].data ? sim->cut[member].data : sim->store;
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
