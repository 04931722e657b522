#include "bpub.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct worker {
    struct bpub *p;
    int index;
};

uint64_t bpub_now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static size_t discard(char *d, size_t s, size_t n, void *ud)
{
    (void)d;
    (void)ud;
    return s * n;
}

/* Saturated pacing: waits while the window is full; returns 0 when time ran out. */
static int window_open(struct bpub *p, uint64_t end_us)
{
    const struct bpub_config *c = &p->cfg;
    for (;;) {
        uint64_t now = bpub_now_us();
        if (now >= end_us)
            return 0;
        uint64_t made = atomic_load(&p->sent) * c->per_event;
        uint64_t got = atomic_load_explicit(c->delivered, memory_order_relaxed);
        if (made < got + c->window)
            return 1;
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

/* The URL of one event: {ch} replaced by its channel. */
static void event_url(const char *tmpl, const char *chan, char *out, size_t outlen)
{
    const char *at = strstr(tmpl, "{ch}");
    if (at == NULL)
        snprintf(out, outlen, "%s", tmpl);
    else
        snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, chan, at + 4);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct bpub *p = w->p;
    const struct bpub_config *c = &p->cfg;
    CURL *curl = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (curl == NULL || h == NULL) {
        atomic_fetch_add(&p->failed, 1);
        goto out;
    }
    int in_url = strstr(c->url, "{ch}") != NULL;
    curl_easy_setopt(curl, CURLOPT_URL, c->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    uint64_t end = p->start_us + (uint64_t)(c->seconds * 1e6);
    char body[384], chan[32] = "", field[64] = "", url[512];
    for (uint64_t k = (uint64_t)w->index;; k += (uint64_t)c->publishers) {
        if (c->rate > 0) {
            uint64_t due = p->start_us + (uint64_t)((double)k * 1e6 / c->rate);
            if (due >= end)
                break;
            uint64_t now = bpub_now_us();
            if (now < due)
                usleep((useconds_t)(due - now));
            else if (now - due > 10000)
                atomic_fetch_add(&p->late, 1);
        } else if (!window_open(p, end)) {
            break;
        }
        if (c->channels > 0) {
            snprintf(chan, sizeof chan, "bench-%" PRIu64, k % (uint64_t)c->channels);
            if (in_url) {
                event_url(c->url, chan, url, sizeof url);
                curl_easy_setopt(curl, CURLOPT_URL, url);
            } else {
                snprintf(field, sizeof field, ",\"channel\":\"%s\"", chan);
            }
        }
        int n = snprintf(body, sizeof body,
                         "{\"event\":\"%s\"%s,\"%s\":{\"k\":%" PRIu64 ",\"name\":\"p-%" PRIu64
                         "\",\"req_id\":\"bench-%" PRIu64 "\",\"price\":9.99,\"ts\":%" PRIu64 "}}",
                         c->event, field, c->body == BPUB_FRAME ? "data" : "payload", k, k, k,
                         bpub_now_us());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)n);
        long code = 0;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            if (p->per_channel)
                atomic_fetch_add(&p->per_channel[k % (uint64_t)c->channels], 1);
            atomic_fetch_add(&p->sent, 1);
        } else {
            /* Not owed to anyone; k is not reused, so subscribers' order checks hold. */
            atomic_fetch_add(&p->failed, 1);
        }
    }
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    atomic_fetch_sub(&p->running, 1);
    free(w);
    return NULL;
}

int bpub_start(struct bpub *p, const struct bpub_config *c, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->cfg = *c;
    if (p->cfg.publishers < 1)
        p->cfg.publishers = 1;
    if (p->cfg.publishers > BPUB_MAX)
        p->cfg.publishers = BPUB_MAX;
    if (c->channels > 0) {
        p->per_channel = calloc((size_t)c->channels, sizeof *p->per_channel);
        if (p->per_channel == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    p->start_us = bpub_now_us();
    atomic_store(&p->running, p->cfg.publishers);
    for (int j = 0; j < p->cfg.publishers; j++) {
        struct worker *w = malloc(sizeof *w);
        if (w)
            *w = (struct worker){p, j};
        if (w == NULL || pthread_create(&p->thread[j], NULL, run, w) != 0) {
            free(w);
            atomic_fetch_sub(&p->running, p->cfg.publishers - j);
            snprintf(err, errlen, "cannot start publisher thread %d", j);
            p->nthreads = j;
            bpub_join(p); /* the ones started end after cfg.seconds */
            bpub_cleanup(p);
            return -1;
        }
        p->nthreads = j + 1;
    }
    return 0;
}

int bpub_done(struct bpub *p)
{
    return atomic_load(&p->running) == 0;
}

void bpub_join(struct bpub *p)
{
    for (int j = 0; j < p->nthreads; j++)
        pthread_join(p->thread[j], NULL);
}

void bpub_cleanup(struct bpub *p)
{
    free(p->per_channel);
    p->per_channel = NULL;
}
