#include "emitter.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monoclock.h"

struct item {
    char *body; /* the whole /emit request body */
    size_t len;
    char id[40];
};

struct emitter {
    char *url;
    struct curl_slist *headers;
    int retries;
    long timeout_ms, backoff_ms;
    CURL *curl;
    pthread_t thread;
    unsigned seed;

    pthread_mutex_t lock;
    pthread_cond_t more; /* items were queued, or stop */
    pthread_cond_t idle; /* the queue became empty and nothing is in flight */
    struct item *ring;   /* queue_max slots */
    size_t cap, head, count;
    int inflight, closing, stop;
    atomic_int abort_now; /* the flush deadline passed: give up on the current event */
    atomic_ulong drops;   /* refused by emitter_push, for rate-limited logging */

    struct metric *m_ok, *m_retried, *m_failed, *m_dropped, *m_queue;
};

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    struct emitter *e = ud;
    return atomic_load(&e->abort_now) ? 1 : 0;
}

/* Sleeps ms in small steps, returning early when the emitter must give up. */
static void backoff_sleep(struct emitter *e, long ms)
{
    long end = monoclock_ms() + ms;
    while (!atomic_load(&e->abort_now) && monoclock_ms() < end)
        usleep(10000);
}

/* One POST /emit. Returns the HTTP status, or 0 on a transport error (text in err). */
static long post_once(struct emitter *e, const struct item *it, char *err, size_t errlen)
{
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, it->body);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE, (long)it->len);
    CURLcode rc = curl_easy_perform(e->curl);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        return 0;
    }
    long code = 0;
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static void send_item(struct emitter *e, const struct item *it)
{
    char err[256] = "";
    long status = 0;
    for (int attempt = 0; attempt <= e->retries; attempt++) {
        if (attempt > 0) {
            long b = e->backoff_ms << (attempt - 1 < 6 ? attempt - 1 : 6);
            if (b > 2000)
                b = 2000;
            backoff_sleep(e, b / 2 + (long)(rand_r(&e->seed) % (unsigned)(b / 2 + 1)));
        }
        if (atomic_load(&e->abort_now))
            break;
        status = post_once(e, it, err, sizeof err);
        if (status == 202) {
            metric_inc(attempt == 0 ? e->m_ok : e->m_retried);
            if (attempt > 0)
                LOG_INFO("emit_retried id=%s attempts=%d", it->id, attempt + 1);
            return;
        }
        if (status >= 400 && status < 500 && status != 408 && status != 429)
            break; /* the relay refused this event: resending will not help */
        LOG_DEBUG("emit_attempt_failed id=%s attempt=%d status=%ld error=\"%s\"", it->id,
                  attempt + 1, status, err);
    }
    metric_inc(e->m_failed);
    LOG_WARN("emit_failed id=%s status=%ld error=\"%s\"", it->id, status,
             status ? "relay answered an error" : err);
}

static void *run(void *arg)
{
    struct emitter *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->stop && e->count == 0)
            pthread_cond_wait(&e->more, &e->lock);
        if (e->stop)
            break;
        struct item it = e->ring[e->head];
        e->head = (e->head + 1) % e->cap;
        e->count--;
        e->inflight = 1;
        metric_set(e->m_queue, (int64_t)e->count);
        pthread_mutex_unlock(&e->lock);
        send_item(e, &it);
        free(it.body);
        pthread_mutex_lock(&e->lock);
        e->inflight = 0;
        if (e->count == 0)
            pthread_cond_broadcast(&e->idle);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

static void add_metrics(struct emitter *e, struct metrics *m)
{
    if (m == NULL)
        return;
    const char *help = "Events sent to the relay, by outcome.";
    e->m_ok = metrics_add(m, METRIC_COUNTER, "fakeapp_emits_total", "result=\"ok\"", help);
    e->m_retried =
        metrics_add(m, METRIC_COUNTER, "fakeapp_emits_total", "result=\"retried\"", help);
    e->m_failed = metrics_add(m, METRIC_COUNTER, "fakeapp_emits_total", "result=\"failed\"", help);
    e->m_dropped =
        metrics_add(m, METRIC_COUNTER, "fakeapp_emits_total", "result=\"dropped\"", help);
    e->m_queue = metrics_add(m, METRIC_GAUGE, "fakeapp_emit_queue", NULL,
                             "Events waiting to be sent to the relay.");
}

struct emitter *emitter_new(const struct emitter_config *c, char *err, size_t errlen)
{
    struct emitter *e = calloc(1, sizeof *e);
    if (e == NULL)
        goto oom;
    e->cap = c->queue_max ? c->queue_max : 10000;
    e->retries = c->retries;
    e->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 2000;
    e->backoff_ms = c->backoff_ms > 0 ? c->backoff_ms : 50;
    e->seed = (unsigned)monoclock_ms() ^ (unsigned)getpid();
    e->ring = calloc(e->cap, sizeof *e->ring);
    e->url = strdup(c->url);
    e->curl = curl_easy_init();
    if (e->ring == NULL || e->url == NULL || e->curl == NULL)
        goto oom_free;
    e->headers = curl_slist_append(NULL, "Content-Type: application/json");
    e->headers = curl_slist_append(e->headers, "Expect:");
    if (c->token) {
        char auth[512];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        e->headers = curl_slist_append(e->headers, auth);
    }
    curl_easy_setopt(e->curl, CURLOPT_URL, e->url);
    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e);
    add_metrics(e, c->metrics);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->more, NULL);
    pthread_cond_init(&e->idle, NULL);
    if (pthread_create(&e->thread, NULL, run, e) != 0) {
        snprintf(err, errlen, "cannot start the emitter thread");
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->more);
        pthread_cond_destroy(&e->idle);
        goto fail;
    }
    return e;
oom_free:
    snprintf(err, errlen, "out of memory");
fail:
    curl_slist_free_all(e->headers);
    if (e->curl)
        curl_easy_cleanup(e->curl);
    free(e->url);
    free(e->ring);
    free(e);
    return NULL;
oom:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

int emitter_push(struct emitter *e, const char *event, const char *channel, const char *id,
                 const char *payload, size_t payload_len)
{
    struct item it;
    snprintf(it.id, sizeof it.id, "%s", id);
    char ch[96] = "";
    if (channel && *channel)
        snprintf(ch, sizeof ch, ",\"channel\":\"%.64s\"", channel);
    size_t cap = payload_len + strlen(event) + strlen(it.id) + strlen(ch) + 64;
    it.body = malloc(cap);
    if (it.body == NULL) {
        metric_inc(e->m_dropped);
        return -1;
    }
    int n = snprintf(it.body, cap, "{\"event\":\"%s\",\"payload\":%.*s,\"id\":\"%s\"%s}", event,
                     (int)payload_len, payload, it.id, ch);
    it.len = (size_t)n;
    pthread_mutex_lock(&e->lock);
    if (e->closing || e->count == e->cap) {
        int closing = e->closing;
        pthread_mutex_unlock(&e->lock);
        free(it.body);
        metric_inc(e->m_dropped);
        /* Under overload this would be a line per request: log the 1st, 2nd, 4th, ... */
        unsigned long n = atomic_fetch_add(&e->drops, 1) + 1;
        if ((n & (n - 1)) == 0)
            LOG_WARN("emit_dropped id=%s reason=%s dropped_so_far=%lu", it.id,
                     closing ? "stopping" : "queue_full", n);
        return -1;
    }
    e->ring[(e->head + e->count) % e->cap] = it;
    e->count++;
    metric_set(e->m_queue, (int64_t)e->count);
    pthread_cond_signal(&e->more);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

void emitter_free(struct emitter *e, long flush_ms)
{
    if (e == NULL)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += flush_ms / 1000;
    deadline.tv_nsec += (flush_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&e->lock);
    e->closing = 1;
    size_t waiting = e->count;
    while (e->count > 0 || e->inflight)
        if (pthread_cond_timedwait(&e->idle, &e->lock, &deadline) != 0)
            break;
    size_t left = e->count;
    e->stop = 1;
    atomic_store(&e->abort_now, 1);
    pthread_cond_broadcast(&e->more);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    for (size_t i = 0; i < e->count; i++)
        free(e->ring[(e->head + i) % e->cap].body);
    metric_add(e->m_dropped, left);
    LOG_INFO("emitter_stopped queued_at_stop=%zu dropped=%zu", waiting, left);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->more);
    pthread_cond_destroy(&e->idle);
    curl_slist_free_all(e->headers);
    curl_easy_cleanup(e->curl);
    free(e->url);
    free(e->ring);
    free(e);
}

void emitter_stats(struct emitter *e, struct emitter_stats *out)
{
    out->ok = (unsigned long long)metric_get(e->m_ok);
    out->retried = (unsigned long long)metric_get(e->m_retried);
    out->failed = (unsigned long long)metric_get(e->m_failed);
    out->dropped = (unsigned long long)metric_get(e->m_dropped);
    pthread_mutex_lock(&e->lock);
    out->queued = e->count;
    pthread_mutex_unlock(&e->lock);
}
