#include "verify.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hlog.h"
#include "log.h"
#include "scan.h"
#include "strtab.h"

#define VERIFY_PARALLEL 16
#define PLACEHOLDER "{{req_id}}"

enum { ST_NONE = 0, ST_OK, ST_FAIL, ST_INFO };

/* What the history says about each request: invoked, and its first outcome. */
struct seen {
    struct strtab *ids;
    uint8_t *invoked, *outcome;
    size_t cap;
};

static int seen_grow(struct seen *s, uint32_t idx)
{
    if (idx < s->cap)
        return 0;
    size_t n = s->cap ? s->cap * 2 : 1024;
    while (n <= idx)
        n *= 2;
    uint8_t *a = realloc(s->invoked, n), *b = a ? realloc(s->outcome, n) : NULL;
    if (a)
        s->invoked = a;
    if (b == NULL)
        return -1;
    s->outcome = b;
    memset(s->invoked + s->cap, 0, n - s->cap);
    memset(s->outcome + s->cap, 0, n - s->cap);
    s->cap = n;
    return 0;
}

/* Takes one history line into s. Lines that are not request records are skipped. */
static int seen_line(struct seen *s, const char *line, size_t len)
{
    struct js_obj o;
    struct js_val k, v, type = {0}, id = {0};
    if (js_obj_open(&o, line, len) != 0)
        return 0;
    while (js_obj_next(&o, &k, &v) == 1) {
        if (js_eq(&k, "type") && v.type == JS_STRING)
            type = v;
        else if (js_eq(&k, "req_id") && v.type == JS_STRING)
            id = v;
    }
    if (type.type != JS_STRING || id.type != JS_STRING || id.len == 0)
        return 0;
    int st = js_eq(&type, "invoke") ? -1
             : js_eq(&type, "ok")   ? ST_OK
             : js_eq(&type, "fail") ? ST_FAIL
             : js_eq(&type, "info") ? ST_INFO
                                    : 0;
    if (st == 0)
        return 0;
    char buf[128];
    size_t n = js_str_copy(&id, buf, sizeof buf);
    uint32_t idx = strtab_intern(s->ids, buf, n < sizeof buf ? n : sizeof buf - 1);
    if (idx == STRTAB_NONE || seen_grow(s, idx) != 0)
        return -1;
    if (st < 0)
        s->invoked[idx] = 1;
    else if (s->outcome[idx] == ST_NONE)
        s->outcome[idx] = (uint8_t)st;
    return 0;
}

static int read_history(struct seen *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0)
        rc = seen_line(s, line, (size_t)n);
    free(line);
    fclose(f);
    return rc;
}

int lg_verify_url(const struct lg_config *cfg, const char *req_id, char *buf, size_t cap)
{
    char *esc = curl_easy_escape(NULL, req_id, 0);
    if (esc == NULL)
        return -1;
    int n = snprintf(buf, cap, "http://%s:%d", cfg->http.host, cfg->http.port);
    size_t used = n > 0 ? (size_t)n : cap;
    const char *t = cfg->verify_path;
    int placed = 0;
    while (used < cap && *t) {
        const char *ph = strstr(t, PLACEHOLDER);
        size_t lit = ph ? (size_t)(ph - t) : strlen(t);
        n = snprintf(buf + used, cap - used, "%.*s%s", (int)lit, t, ph ? esc : "");
        used += n > 0 ? (size_t)n : cap;
        t += lit + (ph ? strlen(PLACEHOLDER) : 0);
        placed |= ph != NULL;
    }
    if (!placed && used < cap) {
        n = snprintf(buf + used, cap - used, "%sreq_id=%s",
                     strchr(cfg->verify_path, '?') ? "&" : "?", esc);
        used += n > 0 ? (size_t)n : cap;
    }
    curl_free(esc);
    return used < cap ? 0 : -1;
}

struct ask {
    CURL *easy;
    struct curl_slist *headers;
    uint32_t idx;
    char pod[128];
    char url[1024];
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    struct ask *a = ud;
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
        snprintf(a->pod, sizeof a->pod, "%.*s", (int)vl, v);
    }
    return len;
}

static size_t discard(char *b, size_t size, size_t n, void *ud)
{
    (void)b;
    (void)ud;
    return size * n;
}

static struct ask *ask_start(const struct lg_config *cfg, CURLM *m, const struct seen *s,
                             uint32_t idx)
{
    struct ask *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->idx = idx;
    if (lg_verify_url(cfg, strtab_get(s->ids, idx), a->url, sizeof a->url) != 0 ||
        (a->easy = curl_easy_init()) == NULL) {
        free(a);
        return NULL;
    }
    if (*cfg->host_header) {
        char h[300];
        snprintf(h, sizeof h, "Host: %s", cfg->host_header);
        a->headers = curl_slist_append(NULL, h);
    }
    if (*cfg->header)
        a->headers = curl_slist_append(a->headers, cfg->header);
    CURL *e = a->easy;
    curl_easy_setopt(e, CURLOPT_URL, a->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
    if (curl_multi_add_handle(m, e) != CURLM_OK) {
        curl_slist_free_all(a->headers);
        curl_easy_cleanup(e);
        free(a);
        return NULL;
    }
    return a;
}

static void ask_done(struct hlog *h, const struct seen *s, struct ask *a, CURLcode res,
                     struct lg_verify_totals *tot)
{
    long status = 0;
    curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *id = strtab_get(s->ids, a->idx);
    hlog_begin(h, lg_clock_us(), "verify");
    hlog_str(h, "req_id", id, strlen(id));
    if (res == CURLE_OK && (status == 200 || status == 404)) {
        hlog_bool(h, "exists", status == 200);
        if (status == 200)
            tot->exists++;
        else
            tot->absent++;
    } else {
        char msg[CURL_ERROR_SIZE + 32];
        if (res != CURLE_OK)
            snprintf(msg, sizeof msg, "%s", a->errbuf[0] ? a->errbuf : curl_easy_strerror(res));
        else
            snprintf(msg, sizeof msg, "status %ld", status);
        hlog_str(h, "error", msg, strlen(msg));
        tot->errors++;
    }
    if (status)
        hlog_int(h, "status", status);
    if (a->pod[0])
        hlog_str(h, "pod", a->pod, strlen(a->pod));
    hlog_end(h);
}

/* 1 when the request idx should be asked about. */
static int wanted(const struct lg_config *cfg, const struct seen *s, uint32_t idx)
{
    if (!s->invoked[idx])
        return 0;
    uint8_t o = s->outcome[idx];
    return o == ST_INFO || o == ST_NONE || (cfg->verify_all && o == ST_OK);
}

void lg_verify_run(const struct lg_config *cfg, const char *path, int fd,
                   struct lg_verify_totals *out)
{
    struct lg_verify_totals tot = {0};
    struct seen s = {0};
    struct hlog h;
    CURLM *m = NULL;
    int have_log = 0;
    s.ids = strtab_new();
    if (s.ids == NULL || read_history(&s, path) != 0) {
        LOG_ERROR("verify_failed reason=\"cannot read the history %s\"", path);
        goto out;
    }
    if (hlog_init(&h, fd, 1 << 20) != 0 || (m = curl_multi_init()) == NULL) {
        LOG_ERROR("verify_failed reason=\"out of memory\"");
        goto out;
    }
    have_log = 1;
    uint32_t n = strtab_count(s.ids), next = 0;
    int inflight = 0;
    for (;;) {
        while (inflight < VERIFY_PARALLEL && next < n) {
            uint32_t idx = next++;
            if (!wanted(cfg, &s, idx))
                continue;
            tot.asked++;
            if (ask_start(cfg, m, &s, idx) != NULL) {
                inflight++;
                continue;
            }
            const char *id = strtab_get(s.ids, idx);
            hlog_begin(&h, lg_clock_us(), "verify");
            hlog_str(&h, "req_id", id, strlen(id));
            hlog_str(&h, "error", "request setup failed", 20);
            hlog_end(&h);
            tot.errors++;
        }
        if (inflight == 0 && next >= n)
            break;
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct ask *a = NULL;
            CURL *e = msg->easy_handle;
            CURLcode res = msg->data.result;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&a);
            ask_done(&h, &s, a, res, &tot);
            curl_multi_remove_handle(m, e);
            curl_slist_free_all(a->headers);
            curl_easy_cleanup(e);
            free(a);
            inflight--;
        }
        if (inflight > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    LOG_INFO("verify_done asked=%llu exists=%llu absent=%llu errors=%llu",
             (unsigned long long)tot.asked, (unsigned long long)tot.exists,
             (unsigned long long)tot.absent, (unsigned long long)tot.errors);
out:
    if (m)
        curl_multi_cleanup(m);
    if (have_log)
        hlog_cleanup(&h);
    strtab_free(s.ids);
    free(s.invoked);
    free(s.outcome);
    if (out)
        *out = tot;
}
