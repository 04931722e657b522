#include "repl.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

void repl_init(struct repl *r, const struct mongosim_config *cfg, int *changed)
{
    memset(r, 0, sizeof *r);
    r->n = (int)cfg->members;
    r->changed = changed;
    r->election_timeout_ms = cfg->election_timeout_ms;
    for (int i = 0; i < r->n; i++) {
        struct member *m = &r->m[i];
        m->port = (int)cfg->port + i;
        snprintf(m->host, sizeof m->host, "%s:%d", cfg->advertise, m->port);
        m->up = 1;
        bson_oid_init(&m->process_id, NULL);
    }
    r->primary = 0;
    r->last_primary = 0;
    r->term = 1;
}

void repl_bump(struct repl *r)
{
    for (int i = 0; i < r->n; i++)
        r->m[i].tv_counter++;
    *r->changed = 1;
}

/* The primary is gone: schedule an election one timeout from now. */
static void lose_primary(struct repl *r, int64_t now)
{
    if (r->primary >= 0)
        r->last_primary = r->primary;
    r->primary = -1;
    r->election_at = now + r->election_timeout_ms;
}

int repl_step_down(struct repl *r, int idx, long secs, int64_t now)
{
    if (idx < 0 || idx >= r->n || r->primary != idx)
        return -1;
    r->m[idx].frozen_until = now + secs * 1000;
    lose_primary(r, now);
    LOG_INFO("step_down member=%d host=%s frozen_s=%ld", idx, r->m[idx].host, secs);
    repl_bump(r);
    return 0;
}

int repl_kill(struct repl *r, int idx, int64_t now)
{
    if (idx < 0 || idx >= r->n || !r->m[idx].up)
        return -1;
    r->m[idx].up = 0;
    r->m[idx].paused = 0;
    if (r->primary == idx)
        lose_primary(r, now);
    LOG_INFO("member_killed member=%d host=%s", idx, r->m[idx].host);
    repl_bump(r);
    return 0;
}

int repl_restart(struct repl *r, int idx, int64_t now)
{
    if (idx < 0 || idx >= r->n || r->m[idx].up)
        return -1;
    struct member *m = &r->m[idx];
    m->up = 1;
    m->paused = 0;
    m->latency_ms = 0;
    m->frozen_until = 0;
    bson_oid_init(&m->process_id, NULL); /* a restarted process has a new processId */
    m->tv_counter = 0;
    if (r->primary < 0 && r->election_at == 0)
        r->election_at = now + r->election_timeout_ms;
    LOG_INFO("member_restarted member=%d host=%s", idx, m->host);
    repl_bump(r);
    return 0;
}

int repl_pause(struct repl *r, int idx, int64_t now)
{
    if (idx < 0 || idx >= r->n || !r->m[idx].up || r->m[idx].paused)
        return -1;
    r->m[idx].paused = 1;
    /* The others stop hearing from a paused primary and elect a new one. */
    if (r->primary == idx)
        lose_primary(r, now);
    LOG_INFO("member_paused member=%d host=%s", idx, r->m[idx].host);
    repl_bump(r);
    return 0;
}

int repl_resume(struct repl *r, int idx, int64_t now)
{
    (void)now;
    if (idx < 0 || idx >= r->n || !r->m[idx].paused)
        return -1;
    r->m[idx].paused = 0;
    LOG_INFO("member_resumed member=%d host=%s", idx, r->m[idx].host);
    repl_bump(r);
    return 0;
}

static int healthy(const struct member *m)
{
    return m->up && !m->paused;
}

/* Members on the connected side (not partitioned) that are healthy. A partitioned member
 * sees only itself, so with two or more members it never has a majority. */
static int connected_alive(const struct repl *r)
{
    int alive = 0;
    for (int i = 0; i < r->n; i++)
        alive += healthy(&r->m[i]) && (!r->m[i].partitioned || r->n == 1);
    return alive;
}

int repl_partition(struct repl *r, int idx, int64_t now)
{
    if (idx < 0 || idx >= r->n || r->m[idx].partitioned)
        return -1;
    r->m[idx].partitioned = 1;
    /* Alone it has no majority (of two or more): a partitioned primary steps down at once,
     * so nothing it acknowledges from now on could be lost; so does a primary left without a
     * majority on its side. The others elect one timeout from now. */
    int alone = r->primary == idx && r->n > 1;
    int alive = connected_alive(r);
    if (r->primary >= 0 && (alone || alive * 2 <= r->n)) {
        LOG_WARN("primary_lost_majority member=%d up=%d of=%d reason=partition", r->primary,
                 alone ? 1 : alive, r->n);
        lose_primary(r, now);
    }
    LOG_INFO("member_partitioned member=%d host=%s", idx, r->m[idx].host);
    repl_bump(r);
    return 0;
}

int repl_heal(struct repl *r, int idx, int64_t now)
{
    (void)now;
    if (idx < 0 || idx >= r->n || !r->m[idx].partitioned)
        return -1;
    /* It rejoins as a secondary (its data catches up in msim_rejoin: repl holds no data). */
    r->m[idx].partitioned = 0;
    LOG_INFO("member_healed member=%d host=%s", idx, r->m[idx].host);
    repl_bump(r);
    return 0;
}

int repl_sees(const struct repl *r, int idx, int other)
{
    return idx == other || (!r->m[idx].partitioned && !r->m[other].partitioned);
}

void repl_freeze(struct repl *r, int idx, long secs, int64_t now)
{
    if (idx >= 0 && idx < r->n)
        r->m[idx].frozen_until = secs > 0 ? now + secs * 1000 : 0;
}

int64_t repl_tick(struct repl *r, int64_t now)
{
    if (r->primary >= 0) {
        /* A primary that no longer sees a majority steps down, as a real one does. */
        int alive = connected_alive(r);
        if (alive * 2 <= r->n) {
            LOG_WARN("primary_lost_majority member=%d up=%d of=%d", r->primary, alive, r->n);
            lose_primary(r, now);
            repl_bump(r);
        }
        return 0;
    }
    if (r->election_at == 0)
        r->election_at = now + r->election_timeout_ms;
    if (now < r->election_at)
        return r->election_at;
    int alive = connected_alive(r), cand = -1;
    /* Prefer the members after the last primary, so a step-down moves the primary on. Only
     * the connected side can hold an election (a lone partitioned member has no majority). */
    for (int k = 1; k <= r->n && alive * 2 > r->n; k++) {
        int i = (r->last_primary + k) % r->n;
        if (healthy(&r->m[i]) && (!r->m[i].partitioned || r->n == 1) &&
            r->m[i].frozen_until <= now) {
            cand = i;
            break;
        }
    }
    if (cand < 0) {
        r->election_at = now + r->election_timeout_ms;
        LOG_DEBUG("election_failed up=%d of=%d", alive, r->n);
        return r->election_at;
    }
    r->primary = cand;
    r->last_primary = cand;
    r->term++;
    r->election_at = 0;
    LOG_INFO("elected member=%d host=%s term=%lld", cand, r->m[cand].host, (long long)r->term);
    repl_bump(r);
    return 0;
}

int repl_find_host(const struct repl *r, const char *host)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->m[i].host, host) == 0)
            return i;
    return -1;
}

void repl_append_election_id(const struct repl *r, bson_t *b, const char *key)
{
    /* Like a real server: 0x7fffffff followed by the term, so later terms compare greater. */
    uint8_t raw[12] = {0x7f, 0xff, 0xff, 0xff};
    for (int i = 0; i < 8; i++)
        raw[4 + i] = (uint8_t)((uint64_t)r->term >> (56 - 8 * i));
    bson_oid_t oid;
    bson_oid_init_from_data(&oid, raw);
    bson_append_oid(b, key, -1, &oid);
}
