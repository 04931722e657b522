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
    r->stale = -1;
    r->stale_primary_ms = cfg->stale_primary_ms;
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

/* The stale primary steps down (it noticed, was healed, killed or told to). */
static void stale_step_down(struct repl *r, const char *why)
{
    LOG_WARN("stale_primary_stepped_down member=%d host=%s term=%lld reason=%s", r->stale,
             r->m[r->stale].host, (long long)r->stale_term, why);
    r->stale = -1;
    r->stale_term = 0;
    r->stale_until = 0;
}

int repl_step_down(struct repl *r, int idx, long secs, int64_t now)
{
    if (idx < 0 || idx >= r->n || !repl_is_primary(r, idx))
        return -1;
    r->m[idx].frozen_until = now + secs * 1000;
    if (r->stale == idx)
        stale_step_down(r, "step_down");
    else
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
    if (r->stale == idx)
        stale_step_down(r, "killed");
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
    /* Alone it has no majority (of two or more). A partitioned primary does not know that
     * yet: it stays primary of its term for stale_primary_ms (what it acknowledges meanwhile
     * is rolled back at the heal), while the others, no longer hearing from it, elect one
     * timeout from now. With stale_primary_ms 0 it steps down at once, as does a primary
     * left without a majority on its side. */
    int alone = r->primary == idx && r->n > 1;
    int alive = connected_alive(r);
    if (alone && r->stale_primary_ms > 0) {
        r->stale = idx;
        r->stale_term = r->term;
        r->stale_until = now + r->stale_primary_ms;
        LOG_WARN("stale_primary member=%d host=%s term=%lld for_ms=%ld", idx, r->m[idx].host,
                 (long long)r->term, r->stale_primary_ms);
        lose_primary(r, now);
    } else if (r->primary >= 0 && (alone || alive * 2 <= r->n)) {
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
    /* It rejoins as a secondary (its data catches up in msim_rejoin: repl holds no data); a
     * stale primary learns of the newer term and steps down. */
    if (r->stale == idx)
        stale_step_down(r, "heal");
    r->m[idx].partitioned = 0;
    LOG_INFO("member_healed member=%d host=%s", idx, r->m[idx].host);
    repl_bump(r);
    return 0;
}

int repl_is_primary(const struct repl *r, int idx)
{
    return idx >= 0 && (r->primary == idx || r->stale == idx);
}

int64_t repl_term_of(const struct repl *r, int idx)
{
    return r->stale >= 0 && r->stale == idx ? r->stale_term : r->term;
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

/* The earlier of two timers, 0 meaning none. */
static int64_t earliest(int64_t a, int64_t b)
{
    return a == 0 ? b : b == 0 || a < b ? a : b;
}

/* Runs a due election. Returns the monotonic ms of the next attempt, or 0 when none. */
static int64_t elect(struct repl *r, int64_t now)
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

int64_t repl_tick(struct repl *r, int64_t now)
{
    if (r->stale >= 0 && now >= r->stale_until) {
        /* It has not heard from a majority for its whole window: it notices and steps down. */
        stale_step_down(r, "no_majority");
        repl_bump(r);
    }
    return earliest(elect(r, now), r->stale >= 0 ? r->stale_until : 0);
}

int repl_find_host(const struct repl *r, const char *host)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->m[i].host, host) == 0)
            return i;
    return -1;
}

void repl_append_election_id(const struct repl *r, int idx, bson_t *b, const char *key)
{
    int64_t term = repl_term_of(r, idx);
    /* Like a real server: 0x7fffffff followed by the term, so later terms compare greater. */
    uint8_t raw[12] = {0x7f, 0xff, 0xff, 0xff};
    for (int i = 0; i < 8; i++)
        raw[4 + i] = (uint8_t)((uint64_t)term >> (56 - 8 * i));
    bson_oid_t oid;
    bson_oid_init_from_data(&oid, raw);
    bson_append_oid(b, key, -1, &oid);
}
