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
    free(s->repl);
    store_free(s->store);
    free(s);
}
