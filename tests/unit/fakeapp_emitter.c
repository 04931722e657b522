/*
 * emitter against a fake relay (common/httpd in this process): bodies, token, retries with
 * backoff, refusals, a dead relay, a full queue, a push that never blocks, flush on free.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emitter.h"
#include "httpd.h"
#include "metrics.h"

struct fake_relay {
    atomic_int requests; /* every POST /emit seen */
    atomic_int accepted;
    atomic_int fail_first; /* answer 503 to this many first */
    int status;            /* then this (202 normally) */
    int delay_ms;
    atomic_int bad_body, bad_auth;
    char last_id[64];
    pthread_mutex_t lock;
};

static void handle_emit(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct fake_relay *f = ud;
    atomic_fetch_add(&f->requests, 1);
    if (f->delay_ms)
        usleep((useconds_t)f->delay_ms * 1000);
    const char *auth = httpd_header(req, "Authorization");
    if (auth == NULL || strcmp(auth, "Bearer t0k") != 0)
        atomic_fetch_add(&f->bad_auth, 1);
    json_t *v = json_loadb(req->body, req->body_len, 0, NULL);
    const char *ev = json_string_value(json_object_get(v, "event"));
    const char *id = json_string_value(json_object_get(v, "id"));
    json_t *pl = json_object_get(v, "payload");
    if (ev == NULL || strcmp(ev, "new_product") != 0 || id == NULL || !json_is_object(pl) ||
        !json_equal(json_object_get(pl, "_id"), json_object_get(v, "id")))
        atomic_fetch_add(&f->bad_body, 1);
    if (id) {
        pthread_mutex_lock(&f->lock);
        snprintf(f->last_id, sizeof f->last_id, "%s", id);
        pthread_mutex_unlock(&f->lock);
    }
    json_decref(v);
    if (atomic_load(&f->fail_first) > 0) {
        atomic_fetch_sub(&f->fail_first, 1);
        httpd_reply_error(resp, 503, "draining", "try later");
        return;
    }
    if (f->status == 202)
        atomic_fetch_add(&f->accepted, 1);
    httpd_reply_json(resp, f->status, json_pack("{s:i}", "offset", 1));
}

static const struct httpd_route routes[] = {{"POST", "/emit", 0, 1, 0, handle_emit}};

static struct httpd *relay_start(struct fake_relay *f, int status)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->status = status;
    struct httpd_config c = {.bind = "127.0.0.1",
                             .port = 0,
                             .max_body = 65536,
                             .threads = 2,
                             .routes = routes,
                             .nroutes = 1,
                             .ud = f,
                             .name = "fake-relay"};
    char err[256];
    struct httpd *h = httpd_new(&c, err, sizeof err);
    ck_assert_msg(h != NULL, "%s", err);
    return h;
}

static struct emitter *emitter_at(int port, struct metrics *m, size_t queue, int retries)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/emit", port);
    struct emitter_config c = {.url = url,
                               .token = "t0k",
                               .queue_max = queue,
                               .retries = retries,
                               .timeout_ms = 1000,
                               .backoff_ms = 10,
                               .metrics = m};
    struct emitter *e = emitter_new(&c, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    return e;
}

static void push(struct emitter *e, int i)
{
    char id[32], doc[128];
    snprintf(id, sizeof id, "%024d", i);
    int n = snprintf(doc, sizeof doc, "{\"_id\":\"%s\",\"name\":\"p\",\"price\":1}", id);
    emitter_push(e, "new_product", NULL, id, doc, (size_t)n);
}

/* Polls until the emitter's counters satisfy ok+retried+failed >= n, for up to 5 s. */
static void wait_done(struct emitter *e, unsigned long long n, struct emitter_stats *st)
{
    for (int i = 0; i < 500; i++) {
        emitter_stats(e, st);
        if (st->ok + st->retried + st->failed >= n)
            return;
        usleep(10000);
    }
}

START_TEST(sends_every_event_with_token)
{
    struct fake_relay f;
    struct httpd *h = relay_start(&f, 202);
    struct metrics *m = metrics_new();
    struct emitter *e = emitter_at(httpd_port(h), m, 100, 3);
    for (int i = 0; i < 50; i++)
        push(e, i);
    struct emitter_stats st;
    wait_done(e, 50, &st);
    ck_assert_uint_eq(st.ok, 50);
    ck_assert_uint_eq(st.retried + st.failed + st.dropped, 0);
    ck_assert_int_eq(atomic_load(&f.accepted), 50);
    ck_assert_int_eq(atomic_load(&f.bad_body), 0);
    ck_assert_int_eq(atomic_load(&f.bad_auth), 0);
    ck_assert_str_eq(f.last_id, "000000000000000000000049"); /* in order */
    size_t len;
    char *text = metrics_render(m, &len);
    ck_assert_ptr_nonnull(strstr(text, "fakeapp_emits_total{result=\"ok\"} 50"));
    free(text);
    emitter_free(e, 1000);
    httpd_free(h);
    metrics_free(m);
}
END_TEST

START_TEST(retries_503_then_ok)
{
    struct fake_relay f;
    struct httpd *h = relay_start(&f, 202);
    atomic_store(&f.fail_first, 2);
    struct metrics *m = metrics_new();
    struct emitter *e = emitter_at(httpd_port(h), m, 100, 3);
    push(e, 1);
    struct emitter_stats st;
    wait_done(e, 1, &st);
    ck_assert_uint_eq(st.retried, 1);
    ck_assert_uint_eq(st.ok + st.failed, 0);
    ck_assert_int_eq(atomic_load(&f.requests), 3);
    emitter_free(e, 1000);
    httpd_free(h);
    metrics_free(m);
}
END_TEST

START_TEST(refusal_is_not_retried)
{
    struct fake_relay f;
    struct httpd *h = relay_start(&f, 401);
    struct metrics *m = metrics_new();
    struct emitter *e = emitter_at(httpd_port(h), m, 100, 5);
    push(e, 1);
    struct emitter_stats st;
    wait_done(e, 1, &st);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_int_eq(atomic_load(&f.requests), 1);
    emitter_free(e, 1000);
    httpd_free(h);
    metrics_free(m);
}
END_TEST

START_TEST(gives_up_after_retries)
{
    struct fake_relay f;
    struct httpd *h = relay_start(&f, 202);
    atomic_store(&f.fail_first, 1000);
    struct metrics *m = metrics_new();
    struct emitter *e = emitter_at(httpd_port(h), m, 100, 2);
    push(e, 1);
    struct emitter_stats st;
    wait_done(e, 1, &st);
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_int_eq(atomic_load(&f.requests), 3); /* 1 + 2 retries, then no more */
    emitter_free(e, 1000);
    httpd_free(h);
    metrics_free(m);
}
END_TEST

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

START_TEST(full_queue_drops_and_never_blocks)
{
    struct fake_relay f;
    struct httpd *h = relay_start(&f, 202);
    f.delay_ms = 300; /* a relay that hangs */
    struct metrics *m = metrics_new();
    struct emitter *e = emitter_at(httpd_port(h), m, 5, 0);
    double t0 = now_s();
    for (int i = 0; i < 1000; i++)
        push(e, i);
    double dt = now_s() - t0;
    ck_assert_msg(dt < 0.5, "1000 pushes took %.3fs", dt);
    struct emitter_stats st;
    emitter_stats(e, &st);
    ck_assert_uint_ge(st.dropped, 1000 - 6);
    ck_assert_uint_le(st.queued, 5);
    emitter_free(e, 0); /* no time to flush: what is left is dropped and counted */
    ck_assert_int_le(atomic_load(&f.requests), 2);
    size_t len;
    char *text = metrics_render(m, &len);
    unsigned long long dropped = 0, failed = 0;
    const char *d = strstr(text, "fakeapp_emits_total{result=\"dropped\"} ");
    const char *f2 = strstr(text, "fakeapp_emits_total{result=\"failed\"} ");
    ck_assert(d && f2 && sscanf(strchr(d, ' '), "%llu", &dropped) == 1 &&
              sscanf(strchr(f2, ' '), "%llu", &failed) == 1);
    ck_assert_uint_le(failed, 1); /* the one in flight when the flush time ran out */
    ck_assert_uint_eq(dropped + failed, 1000);
    free(text);
    httpd_free(h);
    metrics_free(m);
}
END_TEST

START_TEST(free_flushes_the_queue)
{
    struct fake_relay f;
    struct httpd *h = relay_start(&f, 202);
    f.delay_ms = 5;
    struct metrics *m = metrics_new();
    struct emitter *e = emitter_at(httpd_port(h), m, 100, 2);
    for (int i = 0; i < 40; i++)
        push(e, i);
    emitter_free(e, 3000);
    ck_assert_int_eq(atomic_load(&f.accepted), 40);
    httpd_free(h);
    metrics_free(m);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("fakeapp_emitter");
    TCase *tc = tcase_create("emitter");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, sends_every_event_with_token);
    tcase_add_test(tc, retries_503_then_ok);
    tcase_add_test(tc, refusal_is_not_retried);
    tcase_add_test(tc, gives_up_after_retries);
    tcase_add_test(tc, full_queue_drops_and_never_blocks);
    tcase_add_test(tc, free_flushes_the_queue);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
