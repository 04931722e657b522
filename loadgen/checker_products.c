/*
 * checker_products — judgements per product rather than per client: which acknowledged
 * products reached nobody, and, with `verify` records, which requests of unknown outcome
 * committed and which existing products were never announced (the dual-write gap: the app
 * stored the product, then died or failed before telling the relay).
 */
#include <stdio.h>

#include "checker_impl.h"

/* 1 when some client had one connected interval covering [invoke, until] (the whole request). */
static int connected_throughout(const struct lg_check *c, const struct req *q, long long until)
{
    for (size_t id = 0; id < c->nclients; id++)
        if (c->clients[id].seen && lg_covering_interval(c, &c->clients[id], q, until) != 0)
            return 1;
    return 0;
}

int lg_judge_products(struct lg_check *c, struct lg_result *res)
{
    uint32_t n = strtab_count(c->req_ids);
    for (uint32_t i = 0; i < n; i++) {
        const struct req *q = &c->reqs[i];
        if (!q->invoked)
            continue;
        int exists;
        if (q->outcome == OUT_OK) {
            exists = q->verified != VER_ABSENT;
            if (q->verified == VER_ABSENT)
                res->req_acked_missing++;
            if (!q->seen_any)
                res->ev_undelivered++;
        } else if (q->outcome == OUT_FAIL) {
            exists = q->verified == VER_EXISTS;
        } else {
            exists = q->verified == VER_EXISTS;
            if (q->verified == VER_EXISTS)
                res->req_committed_unknown++;
            else if (q->verified == VER_ABSENT)
                res->req_uncommitted_unknown++;
            else
                res->req_unverified++;
        }
        if (!exists || q->seen_any)
            continue;
        /* A request with no outcome at all ran until its shard's history ended. */
        long long until = q->outcome == OUT_NONE ? lg_shard_end(c, q->shard) : q->ack_t;
        if (connected_throughout(c, q, until)) {
            res->ev_unannounced++;
            lg_list_add(&res->unannounced, c, LG_NO_CLIENT, i, -1);
        }
    }
    /* Without verification the unknown requests' products are unknown too: null, not 0. */
    res->has_verify = res->req_unknown == 0 || c->verify_records > 0;
    return 0;
}
