#include "producer.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hlog.h"
#include "log.h"
#include "template.h"

#define BODY_CAP 2048

struct request {
    CURL *easy;
    struct curl_slist *headers;
    uint64_t index;
    long long sched_us;
    char req_id[80];
    char pod[128];
    char body[BODY_CAP]; /* first bytes of the answer, for a pod when there is no header */
    size_t body_len;
    char interface[32];
    char errbuf[CURL_ERROR_SIZE];
};

struct lg_producer {
    const struct lg_config *cfg;
    char prefix[40];
    long long start_us;
    _Atomic uint64_t *acks;
    struct hlog log;
    pthread_t th;
    int started;
    CURLM *multi;
    char url[512];
    char *body; /* scratch for rendering the body template */
    size_t body_cap;
    uint64_t total;
    _Atomic int cancel, done;
    _Atomic uint64_t sent, ok, failed, unknown, inflight;
};

uint64_t lg_producer_planned(const struct lg_config *cfg)
{
    if (cfg->rate <= 0)
        return 0;
    if (cfg->requests > 0)
        return (uint64_t)cfg->requests;
    return (uint64_t)floor(cfg->rate * (double)cfg->duration_ms / 1000.0);
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    struct request *r = ud;
    size_t len = size * n;
    static const char name[] = "x-served-by:";
    if (len > sizeof name - 1 && strncasecmp(b, name, sizeof name - 1) == 0) {
        const char *v = b + sizeof name - 1;
        size_t vl = len - (sizeof name - 1);
        while (vl > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl >= sizeof r->pod)
            vl = sizeof r->pod - 1;
        memcpy(r->pod, v, vl);
        r->pod[vl] = '\0';
    }
    return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud)
{
    struct request *r = ud;
    size_t len = size * n, room = BODY_CAP - 1 - r->body_len;
    size_t k = len < room ? len : room;
    memcpy(r->body + r->body_len, b, k);
    r->body_len += k;
    r->body[r->body_len] = '\0';
    return len;
}

/* Takes the pod from "pod":"..." in the body when the header was missing. */
static void pod_from_body(struct request *r)
{
    const char *p = strstr(r->body, "\"pod\"");
    if (r->pod[0] || p == NULL)
        return;
    p = strchr(p + 5, '"');
    if (p == NULL)
        return;
    size_t n = strcspn(p + 1, "\"");
    if (n >= sizeof r->pod)
        n = sizeof r->pod - 1;
    memcpy(r->pod, p + 1, n);
    r->pod[n] = '\0';
}

static int start_request(struct lg_producer *p, uint64_t i, long long now)
{
    const struct lg_config *cfg = p->cfg;
    struct request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    r->easy = curl_easy_init();
    if (r->easy == NULL) {
        free(r);
        return -1;
    }
    r->index = i;
    r->sched_us = p->start_us + (long long)((double)i * 1e6 / cfg->rate);
    snprintf(r->req_id, sizeof r->req_id, "%s%llu", p->prefix, (unsigned long long)i + 1);
    uint64_t store = cfg->channels > 0 ? i % (uint64_t)cfg->channels : 0;
    struct lg_template_vars vars = {.req_id = r->req_id, .i = i, .store = store};
    if (lg_template_render(cfg->body, &vars, p->body, p->body_cap) < 0) {
        curl_easy_cleanup(r->easy);
        free(r);
        return -1;
    }
    uint32_t client = cfg->clients > 0 ? (uint32_t)(i % (uint64_t)cfg->clients) : 0;
    const char *src = cfg->nips ? cfg->ips[client % cfg->nips] : NULL;
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:");
    if (*cfg->host_header) {
        char h[300];
        snprintf(h, sizeof h, "Host: %s", cfg->host_header);
        r->headers = curl_slist_append(r->headers, h);
    }
    if (*cfg->header)
        r->headers = curl_slist_append(r->headers, cfg->header);
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, p->body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    if (src) {
        snprintf(r->interface, sizeof r->interface, "host!%s", src);
        curl_easy_setopt(e, CURLOPT_INTERFACE, r->interface);
    }
    hlog_begin(&p->log, r->sched_us, "invoke");
    hlog_str(&p->log, "req_id", r->req_id, strlen(r->req_id));
    hlog_int(&p->log, "client", client);
    if (src)
        hlog_str(&p->log, "src", src, strlen(src));
    if (cfg->channels > 0) {
        char ch[LG_CHANNEL_MAX + 1];
        int n = snprintf(ch, sizeof ch, "%s%llu", cfg->channel_prefix, (unsigned long long)store);
        hlog_str(&p->log, "channel", ch, (size_t)n);
    }
    hlog_int(&p->log, "sent", now);
    hlog_end(&p->log);
    if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
        hlog_begin(&p->log, now, "fail");
        hlog_str(&p->log, "req_id", r->req_id, strlen(r->req_id));
        hlog_str(&p->log, "error", "curl_multi_add_handle", 21);
        hlog_end(&p->log);
        atomic_fetch_add(&p->failed, 1);
        curl_slist_free_all(r->headers);
        curl_easy_cleanup(e);
        free(r);
        return 0;
    }
    atomic_fetch_add(&p->sent, 1);
    atomic_fetch_add(&p->inflight, 1);
    return 0;
}

static void finish_request(struct lg_producer *p, CURL *e, CURLcode res)
{
    struct request *r = NULL;
    long status = 0;
    long long now = lg_clock_us();
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    const char *type;
    if (res == CURLE_OK && status >= 200 && status < 300) {
        type = "ok";
        atomic_fetch_add(&p->ok, 1);
        atomic_fetch_add_explicit(p->acks, 1, memory_order_relaxed);
        pod_from_body(r);
    } else if ((res == CURLE_OK && status >= 400 && status < 500) || res == CURLE_COULDNT_CONNECT ||
               res == CURLE_COULDNT_RESOLVE_HOST || res == CURLE_INTERFACE_FAILED) {
        type = "fail"; /* definitely not created */
        atomic_fetch_add(&p->failed, 1);
    } else {
        type = "info"; /* 5xx, timeout, reset: it may or may not have been created */
        atomic_fetch_add(&p->unknown, 1);
    }
    hlog_begin(&p->log, now, type);
    hlog_str(&p->log, "req_id", r->req_id, strlen(r->req_id));
    if (status)
        hlog_int(&p->log, "status", status);
    if (r->pod[0])
        hlog_str(&p->log, "pod", r->pod, strlen(r->pod));
    if (res != CURLE_OK) {
        const char *msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
        hlog_str(&p->log, "error", msg, strlen(msg));
    }
    hlog_end(&p->log);
    curl_multi_remove_handle(p->multi, e);
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(e);
    free(r);
    atomic_fetch_sub(&p->inflight, 1);
}

static void *producer_main(void *arg)
{
    struct lg_producer *p = arg;
    uint64_t next = 0;
    long long next_flush = 0;
    for (;;) {
        long long now = lg_clock_us();
        int cancel = atomic_load(&p->cancel);
        uint64_t inflight = atomic_load(&p->inflight);
        while (!cancel && next < p->total && inflight < (uint64_t)p->cfg->max_inflight &&
               p->start_us + (long long)((double)next * 1e6 / p->cfg->rate) <= now) {
            if (start_request(p, next, now) != 0) {
                LOG_ERROR("request_setup_failed index=%llu", (unsigned long long)next);
                atomic_fetch_add(&p->failed, 1);
            }
            next++;
            inflight = atomic_load(&p->inflight);
        }
        if ((next >= p->total || cancel) && inflight == 0)
            break;
        int running = 0;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(p->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                finish_request(p, m->easy_handle, m->data.result);
        if (now >= next_flush) {
            (void)hlog_flush(&p->log);
            next_flush = now + 200000;
        }
        long long wait_us = 50000;
        if (!cancel && next < p->total && inflight < (uint64_t)p->cfg->max_inflight) {
            long long due = p->start_us + (long long)((double)next * 1e6 / p->cfg->rate);
            wait_us = due - lg_clock_us();
        }
        if (wait_us > 0)
            curl_multi_poll(p->multi, NULL, 0, (int)((wait_us + 999) / 1000), NULL);
    }
    (void)hlog_flush(&p->log);
    atomic_store(&p->done, 1);
    return NULL;
}

struct lg_producer *lg_producer_start(const struct lg_config *cfg, const char *req_prefix,
                                      long long start_us, int fd, _Atomic uint64_t *acks, char *err,
                                      size_t errlen)
{
    struct lg_producer *p = calloc(1, sizeof *p);
    if (p == NULL || hlog_init(&p->log, fd, 1 << 20) != 0) {
        snprintf(err, errlen, "out of memory");
        free(p);
        return NULL;
    }
    p->cfg = cfg;
    p->start_us = start_us;
    p->acks = acks;
    p->total = lg_producer_planned(cfg);
    snprintf(p->prefix, sizeof p->prefix, "%s", req_prefix);
    p->body_cap = lg_template_cap(cfg->body);
    p->body = malloc(p->body_cap);
    if (p->body == NULL) {
        snprintf(err, errlen, "out of memory");
        lg_producer_free(p);
        return NULL;
    }
    snprintf(p->url, sizeof p->url, "http://%s:%d%s", cfg->http.host, cfg->http.port,
             cfg->products_path);
    p->multi = curl_multi_init();
    if (p->multi == NULL) {
        snprintf(err, errlen, "cannot create a curl multi handle");
        lg_producer_free(p);
        return NULL;
    }
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, 512L);
    if (pthread_create(&p->th, NULL, producer_main, p) != 0) {
        snprintf(err, errlen, "cannot start the producer thread");
        lg_producer_free(p);
        return NULL;
    }
    p->started = 1;
    return p;
}

void lg_producer_totals(struct lg_producer *p, struct lg_producer_totals *out)
{
    out->total = p->total;
    out->sent = atomic_load(&p->sent);
    out->ok = atomic_load(&p->ok);
    out->failed = atomic_load(&p->failed);
    out->unknown = atomic_load(&p->unknown);
    out->inflight = atomic_load(&p->inflight);
    out->done = atomic_load(&p->done);
}

void lg_producer_cancel(struct lg_producer *p)
{
    atomic_store(&p->cancel, 1);
    if (p->multi)
        curl_multi_wakeup(p->multi);
}

void lg_producer_free(struct lg_producer *p)
{
    if (p == NULL)
        return;
    if (p->started)
        pthread_join(p->th, NULL);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    hlog_cleanup(&p->log);
    free(p->body);
    free(p);
}
