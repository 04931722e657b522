#include "cluster.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

enum role { ROLE_SEEKING = 0, ROLE_FOLLOWER, ROLE_LEADER };
static const char *role_names[] = {"seeking", "follower", "leader"};

#define FORWARD_HANDLES 8

struct peer_view {
    int alive;
    enum role role;
    uint64_t offset;
};

struct cluster {
    struct relay_config cfg;
    struct hub *hub;
    struct replica *rep;
    volatile sig_atomic_t *leaving;
    pthread_t thread;
    atomic_int stop;

    pthread_mutex_t lock; /* guards role, leader, views */
    enum role role;
    int leader; /* index in cfg.peers, -1 = none known */
    int stable; /* consecutive rounds this member was the best candidate */
    struct peer_view views[RELAY_MAX_PEERS];

    CURL *probe[RELAY_MAX_PEERS]; /* election thread only */
    pthread_mutex_t fwd_lock;
    CURL *fwd[FORWARD_HANDLES]; /* idle keep-alive handles for forwarding */
    int nfwd;
};

struct buf {
    char *p;
    size_t n;
};

static size_t collect(char *p, size_t s, size_t n, void *ud)
{
    struct buf *b = ud;
    size_t k = s * n;
    if (b->n + k > 1 << 20)
        return 0; /* a peer answering megabytes is not a peer */
    char *q = realloc(b->p, b->n + k + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->n, p, k);
    b->p = q;
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

/* GET /cluster of one peer into v. */
static void probe_peer(struct cluster *c, int i, struct peer_view *v)
{
    memset(v, 0, sizeof *v);
    CURL *h = c->probe[i];
    char url[256];
    snprintf(url, sizeof url, "http://%s:%d/cluster", c->cfg.peers[i].host,
             c->cfg.peers[i].http_port);
    struct buf b = {0};
    long timeout = c->cfg.election_ms + 150;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    json_t *o = code == 200 && b.p ? json_loads(b.p, 0, NULL) : NULL;
    const char *role = json_string_value(json_object_get(o, "role"));
    if (role && strcmp(role, "leaving") != 0) { /* a member shutting down counts as gone */
        v->alive = 1;
        v->role = strcmp(role, "leader") == 0     ? ROLE_LEADER
                  : strcmp(role, "follower") == 0 ? ROLE_FOLLOWER
                                                  : ROLE_SEEKING;
        v->offset = (uint64_t)json_integer_value(json_object_get(o, "offset"));
    }
    json_decref(o);
    free(b.p);
}

static void become_leader(struct cluster *c, uint64_t last)
{
    replica_follow(c->rep, NULL, 0);
    /* Continuing someone else's offsets: a new epoch marks where this sequencer began. */
    if (last > 0)
        hub_begin_epoch(c->hub);
    c->role = ROLE_LEADER;
    c->leader = c->cfg.id;
    hub_set_accepting(c->hub, 1);
    LOG_INFO("cluster_leader id=%d offset=%" PRIu64, c->cfg.id, last);
}

/* One election round, with the views of every other member just probed. */
static void decide(struct cluster *c, struct peer_view *views)
{
    struct hub_stats st;
    hub_stats(c->hub, &st);
    pthread_mutex_lock(&c->lock);
    memcpy(c->views, views, sizeof c->views);
    int lowest_leader = -1;
    for (int i = 0; i < c->cfg.npeers; i++)
        if (i != c->cfg.id && views[i].alive && views[i].role == ROLE_LEADER) {
            lowest_leader = i;
            break;
        }
    if (c->role == ROLE_LEADER) {
        if (lowest_leader >= 0 && lowest_leader < c->cfg.id) {
            /* Two leaders (a partition healed): the lower id keeps it; we resync from it. */
            LOG_WARN("cluster_step_down id=%d other_leader=%d", c->cfg.id, lowest_leader);
            c->role = ROLE_SEEKING;
            c->leader = -1;
        }
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (lowest_leader >= 0) {
        c->stable = 0;
        if (c->role != ROLE_FOLLOWER || c->leader != lowest_leader) {
            LOG_INFO("cluster_follow id=%d leader=%d", c->cfg.id, lowest_leader);
            c->role = ROLE_FOLLOWER;
            c->leader = lowest_leader;
            replica_follow(c->rep, c->cfg.peers[lowest_leader].host,
                           c->cfg.peers[lowest_leader].ws_port);
        }
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (c->role == ROLE_FOLLOWER) {
        LOG_WARN("cluster_leader_lost id=%d leader=%d", c->cfg.id, c->leader);
        c->role = ROLE_SEEKING;
        c->leader = -1;
    }
    /* Nobody leads: the member holding the newest offset takes over, then the lowest id. */
    int best = c->cfg.id;
    uint64_t best_off = st.last_offset;
    for (int i = 0; i < c->cfg.npeers; i++) {
        if (i == c->cfg.id || !views[i].alive)
            continue;
        if (views[i].offset > best_off || (views[i].offset == best_off && i < best)) {
            best = i;
            best_off = views[i].offset;
        }
    }
    c->stable = best == c->cfg.id ? c->stable + 1 : 0;
    if (c->stable >= 2)
        become_leader(c, st.last_offset);
    pthread_mutex_unlock(&c->lock);
}

static void *run(void *arg)
{
    struct cluster *c = arg;
    while (!atomic_load(&c->stop)) {
        struct peer_view views[RELAY_MAX_PEERS];
        memset(views, 0, sizeof views);
        for (int i = 0; i < c->cfg.npeers && !atomic_load(&c->stop); i++)
            if (i != c->cfg.id)
                probe_peer(c, i, &views[i]);
        decide(c, views);
        struct timespec ts = {c->cfg.election_ms / 1000, (c->cfg.election_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

struct cluster *cluster_new(const struct relay_config *cfg, struct hub *hub,
                            replica_mirrored_fn fn, void *ud, volatile sig_atomic_t *leaving,
                            char *err, size_t errlen)
{
    struct cluster *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->hub = hub;
    c->leaving = leaving;
    c->leader = -1;
    atomic_init(&c->stop, 0);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->fwd_lock, NULL);
    for (int i = 0; i < cfg->npeers; i++) {
        c->probe[i] = curl_easy_init();
        if (c->probe[i] == NULL) {
            snprintf(err, errlen, "cannot create an HTTP client");
            goto fail;
        }
    }
    /* Not ready for clients until this member leads or follows a leader in sync. */
    hub_set_accepting(hub, 0);
    c->rep = replica_new(hub, cfg->id, fn, ud, err, errlen);
    if (c->rep == NULL)
        goto fail;
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        snprintf(err, errlen, "cannot start the cluster thread");
        goto fail;
    }
    return c;
fail:
    replica_free(c->rep);
    for (int i = 0; i < cfg->npeers; i++)
        curl_easy_cleanup(c->probe[i]);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->fwd_lock);
    free(c);
    return NULL;
}

void cluster_free(struct cluster *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    replica_free(c->rep);
    for (int i = 0; i < c->cfg.npeers; i++)
        curl_easy_cleanup(c->probe[i]);
    for (int i = 0; i < c->nfwd; i++)
        curl_easy_cleanup(c->fwd[i]);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->fwd_lock);
    free(c);
}

int cluster_is_leader(struct cluster *c)
{
    pthread_mutex_lock(&c->lock);
    int r = c->role == ROLE_LEADER;
    pthread_mutex_unlock(&c->lock);
    return r;
}

int cluster_ready(struct cluster *c)
{
    pthread_mutex_lock(&c->lock);
    int r = c->role == ROLE_LEADER || (c->role == ROLE_FOLLOWER && replica_synced(c->rep));
    pthread_mutex_unlock(&c->lock);
    return r;
}

long cluster_forward(struct cluster *c, const char *body, size_t len, const char *auth, char **out,
                     size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    pthread_mutex_lock(&c->lock);
    int leader = c->role == ROLE_FOLLOWER ? c->leader : -1;
    pthread_mutex_unlock(&c->lock);
    if (leader < 0)
        return 0;
    pthread_mutex_lock(&c->fwd_lock);
    CURL *h = c->nfwd > 0 ? c->fwd[--c->nfwd] : curl_easy_init();
    pthread_mutex_unlock(&c->fwd_lock);
    if (h == NULL)
        return 0;
    char url[256], authz[512];
    snprintf(url, sizeof url, "http://%s:%d/emit", c->cfg.peers[leader].host,
             c->cfg.peers[leader].http_port);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "X-Relay-Forwarded: 1");
    if (auth) {
        snprintf(authz, sizeof authz, "Authorization: %s", auth);
        hdr = curl_slist_append(hdr, authz);
    }
    struct buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg.replica_timeout_ms + 2000);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 500L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    pthread_mutex_lock(&c->fwd_lock);
    if (c->nfwd < FORWARD_HANDLES)
        c->fwd[c->nfwd++] = h;
    else
        curl_easy_cleanup(h);
    pthread_mutex_unlock(&c->fwd_lock);
    if (code == 0) {
        free(b.p);
        return 0;
    }
    *out = b.p;
    *outlen = b.n;
    return code;
}

json_t *cluster_status(struct cluster *c)
{
    struct hub_stats st;
    char epoch[ENVELOPE_EPOCH_BUF];
    hub_stats(c->hub, &st);
    hub_epoch(c->hub, epoch);
    pthread_mutex_lock(&c->lock);
    json_t *members = json_array();
    for (int i = 0; i < c->cfg.npeers; i++) {
        int self = i == c->cfg.id;
        json_array_append_new(
            members, json_pack("{s:i, s:s, s:b, s:s, s:I}", "id", i, "host", c->cfg.peers[i].host,
                               "alive", self || c->views[i].alive, "role",
                               role_names[self ? c->role : c->views[i].role], "offset",
                               (json_int_t)(self ? st.last_offset : c->views[i].offset)));
    }
    int leaving = c->leaving && *c->leaving;
    json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:b, s:I, s:o}", "id", c->cfg.id, "role",
                          leaving ? "leaving" : role_names[c->role], "epoch", epoch, "offset",
                          (json_int_t)st.last_offset, "committed", (json_int_t)st.committed,
                          "synced", c->role == ROLE_LEADER || replica_synced(c->rep), "replicas",
                          (json_int_t)st.replicas, "members", members);
    json_object_set_new(o, "leader", c->leader >= 0 ? json_integer(c->leader) : json_null());
    pthread_mutex_unlock(&c->lock);
    return o;
}
