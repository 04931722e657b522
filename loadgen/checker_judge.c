#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker_impl.h"

void lg_list_add(struct lg_anomaly_list *l, const struct lg_check *c, uint32_t client, uint32_t req,
                 long long offset)
{
    l->total++;
    if (l->n >= LG_MAX_LISTED || l->items == NULL)
        return;
    struct lg_anomaly *a = &l->items[l->n++];
    a->client = client;
    a->offset = offset;
    snprintf(a->req_id, sizeof a->req_id, "%s",
             req == STRTAB_NONE ? "" : strtab_get(c->req_ids, req));
}

static int by_invoke(const void *a, const void *b, void *ctx)
{
    const struct req *reqs = ctx;
    const struct req *x = &reqs[*(const uint32_t *)a];
    const struct req *y = &reqs[*(const uint32_t *)b];
    if (x->invoke_t != y->invoke_t)
        return x->invoke_t < y->invoke_t ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Scratch state for judging one client at a time. */
struct judge {
    uint32_t *acked; /* acknowledged requests sorted by invoke time */
    size_t nacked;
    uint32_t *stored; /* unknown outcome, verified to exist, and received by some client */
    size_t nstored;
    long long *epoch_max;
    uint32_t *epoch_stamp;
};

/* Walks a client's frames in arrival order: duplicates, order, unexpected, latency. */
static void judge_frames(struct lg_check *c, struct judge *j, uint32_t id, struct lg_result *res,
                         struct lg_client_stats *st)
{
    struct client *cl = &c->clients[id];
    for (size_t i = 0; i < cl->nframes; i++) {
        const struct frame_rec *f = &cl->frames[i];
        st->frames++;
        if (f->req == STRTAB_NONE || !c->reqs[f->req].invoked) {
            st->unexpected++;
            lg_list_add(&res->unexpected, c, id, f->req, f->offset);
            continue;
        }
        struct req *q = &c->reqs[f->req];
        q->seen_any = 1;
        if (q->stamp == id + 1) {
            st->duplicated++;
            lg_list_add(&res->duplicated, c, id, f->req, f->offset);
            continue;
        }
        q->stamp = id + 1;
        /* Latency needs one clock: the client's own shard, or shards on one timeline. */
        if (q->shard == cl->shard || c->aligned)
            hist_record(res->latency, f->t > q->invoke_t ? (uint64_t)(f->t - q->invoke_t) : 0);
        if (f->offset < 0 || f->epoch == STRTAB_NONE)
            continue;
        if (j->epoch_stamp[f->epoch] == id + 1 && f->offset < j->epoch_max[f->epoch]) {
            st->out_of_order++;
            lg_list_add(&res->out_of_order, c, id, f->req, f->offset);
            continue;
        }
        j->epoch_stamp[f->epoch] = id + 1;
        j->epoch_max[f->epoch] = f->offset;
    }
}

/* 1 when the request goes to every client, or to a channel joined on interval iv. */
static int owed_on(const struct client *cl, const struct interval *iv, const struct req *q)
{
    if (q->chan1 == 0)
        return 1;
    for (uint32_t i = 0; i < iv->chan_n; i++)
        if (cl->chans[iv->chan_off + i] == q->chan1 - 1)
            return 1;
    return 0;
}

/* 1 when the client joined the request's channel on any connection (or it is a broadcast). */
static int ever_joined(const struct client *cl, const struct req *q)
{
    if (q->chan1 == 0)
        return 1;
    for (size_t i = 0; i < cl->nchans; i++)
        if (cl->chans[i] == q->chan1 - 1)
            return 1;
    return 0;
}

int lg_window(const struct lg_check *c, const struct client *cl, const struct req *q,
              long long *from, long long *until)
{
    if (q->shard == cl->shard)
        return 1;
    if (!c->aligned)
        return 0; /* another clock: this client cannot be judged against that request */
    *from += c->skew_margin_us;
    *until -= c->skew_margin_us;
    return *from <= *until;
}

size_t lg_covering_interval(const struct lg_check *c, const struct client *cl, const struct req *q,
                            long long until)
{
    for (size_t k = 0; k < cl->niv; k++) {
        long long from = cl->iv[k].from, end = cl->iv[k].until;
        if (end == T_OPEN)
            end = lg_shard_end(c, cl->shard);
        if (lg_window(c, cl, q, &from, &end) && from <= q->invoke_t && until <= end)
            return k + 1;
    }
    return 0;
}

/* First index in the acknowledged requests (sorted by invoke time) invoked at or after t. */
static size_t first_at(const struct lg_check *c, const struct judge *j, long long t)
{
    size_t lo = 0, hi = j->nacked;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->reqs[j->acked[mid]].invoke_t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Counts what the client was entitled to and which of those it received (stamps set), then
 * what its reconnect gaps took away: acknowledged requests inside its session (first
 * connect to last disconnect) that it was not entitled to and did not receive.
 */
static void judge_entitled(struct lg_check *c, struct judge *j, uint32_t id, struct lg_result *res,
                           struct lg_client_stats *st)
{
    struct client *cl = &c->clients[id];
    for (size_t k = 0; k < cl->niv; k++) {
        long long from0 = cl->iv[k].from, until0 = cl->iv[k].until;
        if (until0 == T_OPEN)
            until0 = lg_shard_end(c, cl->shard);
        /* Requests of another shard are judged in a narrower window, so start from the
         * earliest candidate: the interval's own start. */
        for (size_t i = first_at(c, j, from0); i < j->nacked; i++) {
            uint32_t r = j->acked[i];
            struct req *q = &c->reqs[r];
            if (q->invoke_t > until0)
                break;
            long long from = from0, until = until0;
            if (!lg_window(c, cl, q, &from, &until) || q->invoke_t < from || q->ack_t > until ||
                !owed_on(cl, &cl->iv[k], q))
                continue;
            if (q->mark == id + 1)
                continue; /* already owed through an earlier interval */
            q->mark = id + 1;
            st->entitled++;
            if (q->stamp == id + 1) {
                st->received++;
            } else {
                st->lost++;
                lg_list_add(&res->lost, c, id, r, -1);
            }
        }
    }
    if (cl->niv > 0) {
        long long span0 = cl->iv[0].from, span1 = cl->iv[cl->niv - 1].until;
        if (span1 == T_OPEN)
            span1 = lg_shard_end(c, cl->shard);
        for (size_t i = first_at(c, j, span0); i < j->nacked; i++) {
            const struct req *q = &c->reqs[j->acked[i]];
            if (q->invoke_t > span1)
                break;
            long long from = span0, until = span1;
            if (!lg_window(c, cl, q, &from, &until) || q->invoke_t < from || q->ack_t > until)
                continue;
            /* An event of a channel the client never joined was never its to lose. */
            if (q->mark != id + 1 && q->stamp != id + 1 && ever_joined(cl, q))
                st->gap_lost++;
        }
    }
    /* What was received without entitlement (distinct events): not a bonus, not a loss. */
    for (size_t i = 0; i < cl->nframes; i++) {
        uint32_t r = cl->frames[i].req;
        if (r != STRTAB_NONE && c->reqs[r].stamp == id + 1) {
            if (c->reqs[r].mark != id + 1) {
                res->ev_unentitled++;
                if (!ever_joined(cl, &c->reqs[r]))
                    res->ev_wrong_channel++;
            }
            c->reqs[r].stamp = 0;
        }
    }
}

/*
 * The requests whose client never learnt the outcome (a timeout, a 502) but whose product
 * the app says exists: the relay owes their events as much as any other. A client is owed
 * one when it was connected from the request's invoke until the first copy reached any
 * client (the broadcast had happened by then); the ack time, which entitles for acknowledged
 * requests, says nothing here. Reads the stamps judge_frames set for this client.
 */
static void judge_stored_unknown(struct lg_check *c, const struct judge *j, uint32_t id,
                                 struct lg_result *res)
{
    const struct client *cl = &c->clients[id];
    for (size_t i = 0; i < j->nstored; i++) {
        uint32_t r = j->stored[i];
        const struct req *q = &c->reqs[r];
        size_t k = lg_covering_interval(c, cl, q, q->seen_t);
        if (k == 0 || !owed_on(cl, &cl->iv[k - 1], q))
            continue;
        res->ev_unknown_expected++;
        if (q->stamp != id + 1)
            lg_list_add(&res->unknown_lost, c, id, r, -1);
    }
}

/* Each request's first copy at any client (seen_t), then the stored unknown ones. */
static int find_stored_unknown(struct lg_check *c, struct judge *j, size_t nclients)
{
    uint32_t nreq = strtab_count(c->req_ids);
    for (uint32_t r = 0; r < nreq; r++)
        c->reqs[r].seen_t = LLONG_MAX;
    for (size_t id = 0; id < nclients && id < c->nclients; id++) {
        const struct client *cl = &c->clients[id];
        for (size_t i = 0; cl->seen && i < cl->nframes; i++) {
            const struct frame_rec *f = &cl->frames[i];
            if (f->req == STRTAB_NONE)
                continue;
            struct req *q = &c->reqs[f->req];
            if ((q->shard == cl->shard || c->aligned) && f->t < q->seen_t)
                q->seen_t = f->t;
        }
    }
    j->stored = malloc(((size_t)nreq + 1) * sizeof *j->stored);
    if (j->stored == NULL)
        return -1;
    for (uint32_t r = 0; r < nreq; r++) {
        const struct req *q = &c->reqs[r];
        if (q->invoked && q->outcome != OUT_OK && q->outcome != OUT_FAIL &&
            q->verified == VER_EXISTS && q->seen_t != LLONG_MAX)
            j->stored[j->nstored++] = r;
    }
    return 0;
}

static int judge_requests(struct lg_check *c, struct judge *j, struct lg_result *res)
{
    uint32_t nreq = strtab_count(c->req_ids);
    uint32_t npods = strtab_count(c->pods);
    j->acked = malloc(((size_t)nreq + 1) * sizeof *j->acked);
    res->pods = calloc((size_t)npods + 1, sizeof *res->pods);
    if (j->acked == NULL || res->pods == NULL)
        return -1;
    for (uint32_t p = 0; p < npods; p++) {
        res->pods[p].name = strdup(strtab_get(c->pods, p));
        if (res->pods[p].name == NULL)
            return -1;
        res->npods++;
    }
    for (uint32_t i = 0; i < nreq; i++) {
        struct req *q = &c->reqs[i];
        if (!q->invoked)
            continue;
        res->req_sent++;
        if (q->outcome == OUT_OK) {
            res->req_ok++;
            j->acked[j->nacked++] = i;
            hist_record(res->req_latency,
                        q->ack_t > q->invoke_t ? (uint64_t)(q->ack_t - q->invoke_t) : 0);
            if (q->pod1 != 0)
                res->pods[q->pod1 - 1].count++;
        } else if (q->outcome == OUT_FAIL) {
            res->req_failed++;
        } else {
            res->req_unknown++; /* info, or no outcome recorded at all */
        }
    }
    qsort_r(j->acked, j->nacked, sizeof *j->acked, by_invoke, c->reqs);
    uint64_t maxpod = 0, podded = 0;
    for (size_t p = 0; p < res->npods; p++) {
        podded += res->pods[p].count;
        if (res->pods[p].count > maxpod)
            maxpod = res->pods[p].count;
    }
    if (podded > 0) {
        res->has_pod_share = 1;
        res->pod_share_max = (double)maxpod / (double)podded;
    }
    return 0;
}

struct lg_result *lg_check_finish(struct lg_check *c)
{
    struct lg_result *res = calloc(1, sizeof *res);
    struct judge j = {0};
    uint32_t nep = strtab_count(c->epochs);
    if (res == NULL)
        return NULL;
    size_t nclients = 0;
    for (size_t i = 0; i < c->nclients; i++)
        if (c->clients[i].seen)
            nclients = i + 1;
    if (c->declared_clients > nclients && c->declared_clients <= MAX_CLIENT_ID)
        nclients = (size_t)c->declared_clients;
    res->latency = hist_new();
    res->req_latency = hist_new();
    res->per_client = calloc(nclients + 1, sizeof *res->per_client);
    res->lost.items = calloc(LG_MAX_LISTED, sizeof(struct lg_anomaly));
    res->duplicated.items = calloc(LG_MAX_LISTED, sizeof(struct lg_anomaly));
    res->out_of_order.items = calloc(LG_MAX_LISTED, sizeof(struct lg_anomaly));
    res->unexpected.items = calloc(LG_MAX_LISTED, sizeof(struct lg_anomaly));
    res->unannounced.items = calloc(LG_MAX_LISTED, sizeof(struct lg_anomaly));
    res->unknown_lost.items = calloc(LG_MAX_LISTED, sizeof(struct lg_anomaly));
    j.epoch_max = calloc((size_t)nep + 1, sizeof *j.epoch_max);
    j.epoch_stamp = calloc((size_t)nep + 1, sizeof *j.epoch_stamp);
    if (res->latency == NULL || res->req_latency == NULL || res->per_client == NULL ||
        res->lost.items == NULL || res->duplicated.items == NULL ||
        res->out_of_order.items == NULL || res->unexpected.items == NULL ||
        res->unannounced.items == NULL || res->unknown_lost.items == NULL || j.epoch_max == NULL ||
        j.epoch_stamp == NULL || judge_requests(c, &j, res) != 0)
        goto fail;
    for (uint32_t r = 0; r < strtab_count(c->req_ids); r++) {
        c->reqs[r].stamp = 0;
        c->reqs[r].mark = 0;
        c->reqs[r].seen_any = 0;
    }
    if (!c->shard_has_wall)
        c->aligned = 0; /* the last shard's start had no wall clock */
    if (find_stored_unknown(c, &j, nclients) != 0)
        goto fail;

    res->clients = nclients;
    res->nper_client = nclients;
    double sum = 0;
    uint64_t with_events = 0;
    for (size_t id = 0; id < nclients; id++) {
        struct lg_client_stats *st = &res->per_client[id];
        st->id = (uint32_t)id;
        if (id >= c->nclients || !c->clients[id].seen)
            continue;
        struct client *cl = &c->clients[id];
        snprintf(st->src, sizeof st->src, "%s", cl->src);
        st->connects = cl->connects;
        st->failed = cl->failed;
        st->drops = cl->drops;
        judge_frames(c, &j, (uint32_t)id, res, st);
        judge_stored_unknown(c, &j, (uint32_t)id, res);
        judge_entitled(c, &j, (uint32_t)id, res, st);
        res->ev_expected += st->entitled;
        res->ev_received += st->received;
        res->ev_lost += st->lost;
        res->ev_duplicated += st->duplicated;
        res->ev_out_of_order += st->out_of_order;
        res->ev_unexpected += st->unexpected;
        res->ev_frames += st->frames;
        res->ev_gap_lost += st->gap_lost;
        res->conn_failed += st->failed;
        res->conn_dropped += st->drops;
        if (st->entitled > 0) {
            double ratio = (double)st->received / (double)st->entitled;
            if (with_events == 0 || ratio < res->client_delivery_min)
                res->client_delivery_min = ratio;
            if (with_events == 0 || ratio > res->client_delivery_max)
                res->client_delivery_max = ratio;
            sum += ratio;
            with_events++;
        }
    }
    res->ev_unknown_lost = res->unknown_lost.total;
    if (with_events > 0) {
        res->has_client_delivery = 1;
        res->client_delivery_mean = sum / (double)with_events;
    }
    if (res->ev_expected > 0) {
        res->has_delivery_ratio = 1;
        res->delivery_ratio = (double)res->ev_received / (double)res->ev_expected;
    }
    res->conn_opened = c->opened;
    res->conn_recovered = c->recovered;
    res->conn_recovery_failed = c->recovery_failed;
    res->sio_handshake_failed = c->sio_handshake_failed;
    res->sio_transport_errors = c->sio_transport_errors;
    res->sio_unknown_sid = c->sio_unknown_sid;
    res->sio_upgraded = c->sio_upgraded;
    res->sio_upgrade_failed = c->sio_upgrade_failed;
    res->close_codes = malloc((c->ncodes + 1) * sizeof *res->close_codes);
    if (res->close_codes == NULL)
        goto fail;
    if (c->ncodes > 0)
        memcpy(res->close_codes, c->codes, c->ncodes * sizeof *res->close_codes);
    res->nclose_codes = c->ncodes;
    if (lg_judge_products(c, res) != 0)
        goto fail;
    res->history_lines = c->lines;
    res->history_malformed = c->malformed;
    res->duration_us = c->has_t ? c->last_t - (c->first_t < 0 ? c->first_t : 0) : 0;
    res->shards = (uint32_t)c->shard + 1;
    res->aligned = c->aligned;
    res->skew_margin_us = c->skew_margin_us;
    free(j.acked);
    free(j.stored);
    free(j.epoch_max);
    free(j.epoch_stamp);
    return res;
fail:
    free(j.acked);
    free(j.stored);
    free(j.epoch_max);
    free(j.epoch_stamp);
    lg_result_free(res);
    return NULL;
}

void lg_result_free(struct lg_result *r)
{
    if (r == NULL)
        return;
    hist_free(r->latency);
    hist_free(r->req_latency);
    for (size_t i = 0; i < r->npods; i++)
        free(r->pods[i].name);
    free(r->pods);
    free(r->close_codes);
    free(r->lost.items);
    free(r->duplicated.items);
    free(r->out_of_order.items);
    free(r->unexpected.items);
    free(r->unannounced.items);
    free(r->unknown_lost.items);
    free(r->per_client);
    free(r);
}
