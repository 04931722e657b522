/*
 * soak_sio — the soak's Socket.IO clients (Engine.IO v4 on /socket.io/ of the relay's
 * websocket port), driven from the soak client's main loop (libcurl multi for the polling
 * requests, the websocket pool for upgraded sessions). Each session has a role, by index:
 *
 *   - stay (2 in 5): long-polling for the whole run, its held GETs answered by events;
 *   - upgrade: polls, then probes a websocket with ?sid= ("2probe"/"3probe"/"5") and goes on
 *     there; after a while it closes and comes back (polling, with recovery), and upgrades again;
 *   - vanish: polls, then stops (no GET, no POST, no close): the relay must end the session.
 *     When pingInterval + pingTimeout and a margin have passed, it asks for its old sid (the
 *     answer must be 400, code 1 "Session ID unknown") and comes back with recovery;
 *   - churn: polls, then closes ("41", "1") and comes back with recovery.
 *
 * Every return sends CONNECT with auth {pid, offset} (the last offset argument received). A
 * recovered session gets its pid back, and its broadcast numbers "b" must go on without a gap,
 * exactly as the plain resumed clients are checked. Each session keeps one GET and at most
 * one POST in flight, as socket.io-client does.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"
#include "wsclient.h"

enum role { R_STAY, R_UPGRADE, R_VANISH, R_CHURN };
enum state { S_IDLE, S_CHECK, S_HANDSHAKE, S_OPEN, S_CLOSING, S_VANISHING, S_GONE, S_WS };
enum { H_GET, H_POST };

struct resp {
    char *d;
    size_t len, cap;
};

struct sio {
    enum soak_kind kind; /* first: K_SIO, for the websocket callbacks */
    int idx;
    enum role role;
    enum state state;
    CURL *e[2];
    int busy[2];
    struct resp r[2];
    char url[2][192];
    char *post_body; /* in flight (owned) */
    char out[512];   /* packets waiting for a POST, joined by 0x1e */
    size_t out_len;
    char sid[40], old_sid[40], pid[40], offset[128];
    int connected; /* got the CONNECT answer */
    int resumed;   /* asked {pid, offset}: the answer's pid says whether it was recovered */
    char asked_pid[40], asked_offset[128];
    unsigned long long last_n; /* offset number of the last event */
    int have_b;
    unsigned long long b;
    struct curl_slist *hdrs; /* the POST's Content-Type */
    struct wsc *w;           /* the upgrade probe, then the upgraded transport */
    int probe_ok;            /* "3probe" received: no more polls; "5" once none is in flight */
    int64_t action_at;       /* the role's next step */
    int64_t next_get;
    int64_t gone_at;
};

static struct wsc_pool *wpool;
static CURLM *multi;
static struct sio *ss;
static int final_phase, closing_all;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n;
    if (r->len + k + 1 > r->cap) {
        size_t cap = (r->len + k + 1) * 2;
        char *d = realloc(r->d, cap);
        if (d == NULL)
            return 0;
        r->d = d;
        r->cap = cap;
    }
    memcpy(r->d + r->len, p, k);
    r->len += k;
    r->d[r->len] = '\0';
    return k;
}

static int64_t jitter_us(int lo_ms, int hi_ms)
{
    return ((int64_t)lo_ms + rand() % (hi_ms - lo_ms + 1)) * 1000;
}

static void request(struct sio *s, int h, const char *sid, const char *body, size_t blen)
{
    CURL *e = s->e[h];
    s->r[h].len = 0;
    if (sid)
        snprintf(s->url[h], sizeof s->url[h],
                 "http://%s:%d/socket.io/?EIO=4&transport=polling&sid=%s", cfg.host, cfg.ws_port,
                 sid);
    else
        snprintf(s->url[h], sizeof s->url[h], "http://%s:%d/socket.io/?EIO=4&transport=polling",
                 cfg.host, cfg.ws_port);
    curl_easy_setopt(e, CURLOPT_URL, s->url[h]);
    if (h == H_POST) {
        free(s->post_body);
        s->post_body = malloc(blen + 1);
        memcpy(s->post_body, body, blen);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->post_body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)blen);
    }
    s->busy[h] = 1;
    curl_multi_add_handle(multi, e);
}

static void queue_out(struct sio *s, const char *p, size_t len)
{
    if (s->state == S_WS && s->w) {
        wsc_send_text(s->w, p, len);
        return;
    }
    if (s->out_len + len + 1 > sizeof s->out)
        return;
    if (s->out_len)
        s->out[s->out_len++] = 0x1e;
    memcpy(s->out + s->out_len, p, len);
    s->out_len += len;
}

/* (Re)connects: first, for a vanished session, the check that its old sid is gone. */
static void start(struct sio *s, int64_t now)
{
    s->connected = 0;
    s->probe_ok = 0;
    s->out_len = 0;
    s->sid[0] = '\0';
    if (s->state == S_GONE && s->old_sid[0] &&
        now - s->gone_at >= (int64_t)(cfg.sio_expire + 5) * 1000000) {
        s->state = S_CHECK;
        request(s, H_GET, s->old_sid, NULL, 0);
        return;
    }
    s->state = S_HANDSHAKE;
    request(s, H_GET, NULL, NULL, 0);
}

/* Drops a session the relay ended or refused (never asked for): back soon, with recovery. */
static void dropped(struct sio *s, int64_t now, const char *why)
{
    if (atomic_fetch_add(&ctr.sio_dropped, 1) < 5)
        fprintf(stderr, "soakclient: sio session %d (role %d) dropped: %s\n", s->idx, s->role, why);
    s->state = S_IDLE;
    s->action_at = now + 500000;
}

static void check_event(struct sio *s, const char *off, long long b)
{
    const char *colon = strchr(off, ':');
    unsigned long long n = colon ? strtoull(colon + 1, NULL, 10) : 0;
    atomic_fetch_add(&ctr.sio_events, 1);
    if (n && s->last_n && n <= s->last_n) {
        atomic_fetch_add(&ctr.sio_duplicates, 1);
        return;
    }
    s->last_n = n;
    if (b <= 0)
        return;
    if (s->have_b && (unsigned long long)b != s->b + 1) {
        if ((unsigned long long)b <= s->b) {
            atomic_fetch_add(&ctr.sio_duplicates, 1);
        } else {
            atomic_fetch_add(&ctr.sio_missed, (unsigned long long)b - s->b - 1);
            if (atomic_fetch_add(&ctr.gap_reports, 1) < 5)
                fprintf(stderr, "soakclient: sio gap idx=%d role=%d b=%llu got=%lld resumed=%d\n",
                        s->idx, s->role, s->b, b, s->resumed);
        }
    }
    s->have_b = 1;
    s->b = (unsigned long long)b;
}

/* Copies the "sid"/"pid" string of a JSON packet into out. */
static void json_str(const char *p, size_t len, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    const char *k = memmem(p, len, key, strlen(key));
    if (k == NULL)
        return;
    k += strlen(key);
    size_t i = 0;
    while (i + 1 < cap && k + i < p + len && k[i] != '"')
        i++;
    memcpy(out, k, i);
    out[i] = '\0';
}

/* One Engine.IO packet from the relay (polling or websocket). */
static void on_packet(struct sio *s, const char *p, size_t len, int64_t now)
{
    if (len == 0)
        return;
    switch (p[0]) {
    case '2':
        if (len == 1)
            queue_out(s, "3", 1);
        return;
    case '1':
        dropped(s, now, "close packet");
        return;
    case '6':
        return;
    case '3': /* "3probe" on the websocket */
        if (len == 6 && memcmp(p, "3probe", 6) == 0)
            s->probe_ok = 1;
        return;
    case '4':
        break;
    default:
        return;
    }
    if (len >= 2 && p[1] == '0') { /* CONNECT answer 40{"sid":..,"pid":..} */
        char pid[40];
        json_str(p, len, "\"pid\":\"", pid, sizeof pid);
        if (s->resumed) {
            if (pid[0] && strcmp(pid, s->asked_pid) == 0) {
                atomic_fetch_add(&ctr.sio_recovered, 1);
            } else {
                atomic_fetch_add(&ctr.sio_not_recovered, 1);
                s->have_b = 0; /* the relay said so (_recovery follows): count from the next */
                s->last_n = 0;
            }
        }
        snprintf(s->pid, sizeof s->pid, "%s", pid);
        s->connected = 1;
        s->action_at = now + (s->role == R_UPGRADE ? jitter_us(1000, 3000) : jitter_us(2000, 6000));
        atomic_fetch_add(&ctr.sio_connects, 1);
        return;
    }
    if (len >= 2 && (p[1] == '4' || p[1] == '1')) {
        dropped(s, now, p[1] == '4' ? "connect error" : "disconnect packet");
        return;
    }
    if (len < 4 || p[1] != '2' || p[2] != '[')
        return;
    /* 42["name",data,"EPOCH:N"]: the last argument is the offset to recover from. */
    char off[128] = "";
    if (len > 4 && p[len - 1] == ']' && p[len - 2] == '"') {
        const char *q = p + len - 3;
        while (q > p && *q != '"')
            q--;
        if (q > p && q[-1] == ',' && (size_t)(p + len - 2 - q - 1) < sizeof off) {
            memcpy(off, q + 1, (size_t)(p + len - 2 - q - 1));
            off[p + len - 2 - q - 1] = '\0';
        }
    }
    if (off[0] && strchr(off, ':'))
        snprintf(s->offset, sizeof s->offset, "%s", off);
    if (memmem(p, len < 40 ? len : 40, "\"_recovery\"", 11) &&
        memmem(p, len, "\"recovered\":false", 17) && atomic_fetch_add(&ctr.bad_reports, 1) < 5)
        fprintf(stderr, "soakclient: sio session %d (role %d) asked %s: %.*s\n", s->idx, s->role,
                s->asked_offset, (int)(len < 200 ? len : 200), p);
    if (len > 6 && memcmp(p + 3, "\"soak\"", 6) == 0) {
        const char *bp = memmem(p, len, "{\"b\":", 5);
        check_event(s, off, bp ? strtoll(bp + 5, NULL, 10) : 0);
    } else if (memmem(p, len < 40 ? len : 40, "\"_connected\"", 12) && !s->resumed && off[0]) {
        const char *colon = strchr(off, ':');
        s->last_n = colon ? strtoull(colon + 1, NULL, 10) : 0;
    }
}

static void on_body(struct sio *s, const char *d, size_t len, int64_t now)
{
    size_t i = 0;
    while (i <= len && s->state != S_IDLE) {
        const char *sep = memchr(d + i, 0x1e, len - i);
        size_t n = sep ? (size_t)(sep - (d + i)) : len - i;
        on_packet(s, d + i, n, now);
        if (sep == NULL)
            break;
        i += n + 1;
    }
}

/* CONNECT to "/" with auth {pid, offset} when the session was connected before. */
static void send_connect(struct sio *s)
{
    char pkt[256];
    s->resumed = s->pid[0] && s->offset[0];
    if (s->resumed) {
        snprintf(s->asked_pid, sizeof s->asked_pid, "%s", s->pid);
        snprintf(s->asked_offset, sizeof s->asked_offset, "%s", s->offset);
        snprintf(pkt, sizeof pkt, "40{\"pid\":\"%s\",\"offset\":\"%s\"}", s->pid, s->offset);
    } else {
        snprintf(pkt, sizeof pkt, "40");
    }
    queue_out(s, pkt, strlen(pkt));
}

/*
 * A closing or vanishing session, once nothing is in flight (and, closing, its "1" is
 * posted): closed ones come back soon; vanished ones after the relay must have ended them.
 * Returns 1 when the session is closing or vanishing.
 */
static int settle(struct sio *s, int64_t now)
{
    if (s->state != S_CLOSING && s->state != S_VANISHING)
        return 0;
    if (s->busy[H_GET] || s->busy[H_POST] || s->out_len)
        return 1;
    if (s->state == S_VANISHING) {
        s->state = S_GONE;
        s->gone_at = now;
        snprintf(s->old_sid, sizeof s->old_sid, "%s", s->sid);
        atomic_fetch_add(&ctr.sio_vanished, 1);
        s->action_at = now + (int64_t)(cfg.sio_expire + 5) * 1000000 + jitter_us(0, 5000);
    } else {
        s->state = S_IDLE;
        s->action_at = now + jitter_us(300, 2000);
    }
    if (final_phase)
        s->action_at = now; /* back at once for the catch-up */
    return 1;
}

static void done(struct sio *s, int h, long status, CURLcode rc, int64_t now)
{
    s->busy[h] = 0;
    struct resp *r = &s->r[h];
    const char *body = r->d ? r->d : "";
    if (s->state == S_CHECK) {
        int ok = status == 400 && strstr(body, "\"code\":1") != NULL;
        atomic_fetch_add(ok ? &ctr.sio_expired_ok : &ctr.sio_expired_wrong, 1);
        if (!ok && atomic_fetch_add(&ctr.bad_reports, 1) < 5)
            fprintf(stderr, "soakclient: vanished sio session %d: old sid answered %ld %.80s\n",
                    s->idx, status, body);
        s->old_sid[0] = '\0';
        s->state = S_HANDSHAKE;
        request(s, H_GET, NULL, NULL, 0);
        return;
    }
    if (s->state == S_IDLE || s->state == S_GONE)
        return; /* the other request of a session that ended */
    if (rc != CURLE_OK || status != 200) {
        if (settle(s, now))
            return;
        char why[160];
        snprintf(why, sizeof why, "%s %ld %.80s", h == H_GET ? "GET" : "POST", status,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : body);
        dropped(s, now, why);
        return;
    }
    if (s->state == S_HANDSHAKE) {
        json_str(body, r->len, "\"sid\":\"", s->sid, sizeof s->sid);
        if (body[0] != '0' || !s->sid[0]) {
            dropped(s, now, "handshake");
            return;
        }
        s->state = S_OPEN;
        send_connect(s);
        s->next_get = now;
        return;
    }
    if (h == H_GET)
        on_body(s, body, r->len, now);
    if (settle(s, now))
        return;
    /* A short pause between polls, so that one answer carries a few events; none while a
     * replay comes in full batches (a session must catch up before its role moves on). */
    if (h == H_GET) {
        size_t packets = 1;
        for (size_t i = 0; i < r->len; i++)
            packets += body[i] == 0x1e;
        s->next_get = packets >= 32 ? now : now + 300000;
    }
}

/* The role's step, when its time has come. */
static void act(struct sio *s, int64_t now)
{
    if (final_phase || now < s->action_at)
        return;
    if (s->state == S_OPEN && s->connected && !s->w) {
        switch (s->role) {
        case R_STAY:
            s->action_at = INT64_MAX;
            return;
        case R_UPGRADE: {
            char path[128], err[256];
            snprintf(path, sizeof path, "/socket.io/?EIO=4&transport=websocket&sid=%s", s->sid);
            struct wsc_options o = {.host = cfg.host,
                                    .port = cfg.ws_port,
                                    .path = path,
                                    .max_message = 1 << 20,
                                    .user = s};
            s->w = wsc_connect(wpool, &o, err, sizeof err);
            if (s->w == NULL)
                atomic_fetch_add(&ctr.sio_upgrade_fail, 1);
            s->action_at = now + jitter_us(3000, 8000); /* life on the websocket */
            return;
        }
        case R_VANISH:
            s->state = S_VANISHING; /* no more requests; the one in flight ends on its own */
            return;
        case R_CHURN:
            queue_out(s, "41", 2);
            queue_out(s, "1", 1);
            s->state = S_CLOSING;
            return;
        }
    }
    if (s->state == S_WS && s->w) {
        wsc_close(s->w, 1000, "churn"); /* on_close brings it back */
        s->action_at = INT64_MAX;
    }
}

void soak_sio_init(struct wsc_pool *pool)
{
    wpool = pool;
    if (cfg.sio <= 0)
        return;
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)cfg.sio * 2 + 16);
    ss = calloc((size_t)cfg.sio, sizeof *ss);
    int64_t now = soak_now_us();
    for (int i = 0; i < cfg.sio; i++) {
        struct sio *s = &ss[i];
        static const enum role roles[5] = {R_STAY, R_UPGRADE, R_STAY, R_VANISH, R_CHURN};
        s->kind = K_SIO;
        s->idx = i;
        s->role = roles[i % 5];
        s->state = S_IDLE;
        s->action_at = now + (int64_t)i * 5000;
        for (int h = 0; h < 2; h++) {
            s->e[h] = curl_easy_init();
            curl_easy_setopt(s->e[h], CURLOPT_WRITEFUNCTION, on_data);
            curl_easy_setopt(s->e[h], CURLOPT_WRITEDATA, &s->r[h]);
            curl_easy_setopt(s->e[h], CURLOPT_PRIVATE, s);
            curl_easy_setopt(s->e[h], CURLOPT_TIMEOUT_MS, 60000L);
            curl_easy_setopt(s->e[h], CURLOPT_NOSIGNAL, 1L);
            /* Idle connections go after 10 s (curl keeps them 118 s): the number a run holds
             * open settles within its first half instead of creeping up through it. */
            curl_easy_setopt(s->e[h], CURLOPT_MAXAGE_CONN, 10L);
        }
        s->hdrs = curl_slist_append(NULL, "Content-Type: text/plain;charset=UTF-8");
        s->hdrs = curl_slist_append(s->hdrs, "Expect:");
        curl_easy_setopt(s->e[H_POST], CURLOPT_HTTPHEADER, s->hdrs);
    }
}

/* The session and handle of an easy handle. */
static struct sio *owner(CURL *e, int *h)
{
    char *p = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &p);
    struct sio *s = (struct sio *)p;
    *h = s && s->e[H_POST] == e ? H_POST : H_GET;
    return s;
}

void soak_sio_service(int64_t now)
{
    if (multi == NULL)
        return;
    int running = 0;
    curl_multi_perform(multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(multi, e);
        int h;
        struct sio *s = owner(e, &h);
        done(s, h, status, rc, now);
    }
    for (int i = 0; i < cfg.sio; i++) {
        struct sio *s = &ss[i];
        if ((s->state == S_IDLE || s->state == S_GONE) && now >= s->action_at && !closing_all &&
            !s->busy[H_GET] && !s->busy[H_POST]) {
            start(s, now);
            continue;
        }
        if (s->state == S_VANISHING)
            settle(s, now);
        if (s->state != S_OPEN && s->state != S_CLOSING && s->state != S_WS)
            continue;
        if (s->state == S_OPEN && s->probe_ok && !s->busy[H_GET] && !s->busy[H_POST] && s->w) {
            /* The poll is released: the websocket takes over. */
            s->state = S_WS;
            wsc_send_text(s->w, "5", 1);
            if (s->out_len) {
                size_t j = 0;
                while (j < s->out_len) {
                    const char *sep = memchr(s->out + j, 0x1e, s->out_len - j);
                    size_t n = sep ? (size_t)(sep - (s->out + j)) : s->out_len - j;
                    wsc_send_text(s->w, s->out + j, n);
                    j += n + 1;
                }
                s->out_len = 0;
            }
            atomic_fetch_add(&ctr.sio_upgrades, 1);
            continue;
        }
        if (s->state == S_WS) {
            act(s, now);
            continue;
        }
        if (!s->busy[H_POST] && s->out_len) {
            request(s, H_POST, s->sid, s->out, s->out_len);
            s->out_len = 0;
        }
        if (s->state == S_CLOSING)
            settle(s, now);
        if (s->state == S_OPEN && !s->probe_ok && !s->busy[H_GET] && now >= s->next_get)
            request(s, H_GET, s->sid, NULL, 0);
        if (s->state == S_OPEN)
            act(s, now);
    }
}

void soak_sio_ws_open(struct wsc *w)
{
    wsc_send_text(w, "2probe", 6);
}

void soak_sio_ws_message(struct wsc *w, const char *d, size_t len)
{
    struct sio *s = wsc_user(w);
    int64_t now = soak_now_us();
    if (s->state == S_WS) {
        on_packet(s, d, len, now);
        return;
    }
    if (len == 6 && memcmp(d, "3probe", 6) == 0)
        s->probe_ok = 1;
}

void soak_sio_ws_close(struct wsc *w)
{
    struct sio *s = wsc_user(w);
    int64_t now = soak_now_us();
    s->w = NULL;
    if (s->state == S_WS) {
        s->state = S_IDLE;
        if (s->action_at != INT64_MAX && !final_phase) {
            if (atomic_fetch_add(&ctr.sio_dropped, 1) < 5)
                fprintf(stderr, "soakclient: upgraded sio session %d closed by the relay\n",
                        s->idx);
        }
        s->action_at = now + jitter_us(300, 2000);
    } else if (!s->probe_ok || s->state == S_OPEN) {
        atomic_fetch_add(&ctr.sio_upgrade_fail, 1); /* the probe went before "5": polls on */
        s->probe_ok = 0;
    }
}

void soak_sio_final(void)
{
    final_phase = 1;
    for (int i = 0; i < cfg.sio; i++)
        if (ss[i].state == S_IDLE || ss[i].state == S_GONE)
            ss[i].action_at = 0;
}

int soak_sio_behind(unsigned long long want)
{
    int n = 0;
    for (int i = 0; i < cfg.sio; i++) {
        const struct sio *s = &ss[i];
        int live = (s->state == S_OPEN && s->connected) || s->state == S_WS;
        n += !live || s->b < want;
    }
    return n;
}

void soak_sio_close_all(void)
{
    if (multi == NULL)
        return;
    closing_all = 1; /* nobody comes back now */
    for (int i = 0; i < cfg.sio; i++) {
        struct sio *s = &ss[i];
        if (s->state == S_WS && s->w) {
            s->action_at = INT64_MAX;
            wsc_close(s->w, 1000, "done");
        } else if (s->state == S_OPEN) {
            queue_out(s, "1", 1);
            s->state = S_CLOSING;
        }
    }
    int64_t until = soak_now_us() + 10000000;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < cfg.sio; i++)
            busy += ss[i].busy[H_GET] + ss[i].busy[H_POST] + (ss[i].w != NULL) +
                    (ss[i].state == S_CLOSING);
        if (!busy || soak_now_us() > until)
            break;
        wsc_pool_service(wpool, 20);
        soak_sio_service(soak_now_us());
    }
}

void soak_sio_free(void)
{
    if (multi == NULL)
        return;
    for (int i = 0; i < cfg.sio; i++) {
        struct sio *s = &ss[i];
        for (int h = 0; h < 2; h++) {
            if (s->busy[h])
                curl_multi_remove_handle(multi, s->e[h]);
            curl_easy_cleanup(s->e[h]);
            free(s->r[h].d);
        }
        curl_slist_free_all(s->hdrs);
        free(s->post_body);
    }
    curl_multi_cleanup(multi);
    free(ss);
    multi = NULL;
}
