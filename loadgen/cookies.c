#include "cookies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void ck_jar_init(struct ck_jar *j)
{
    j->v = NULL;
    j->n = 0;
}

void ck_jar_cleanup(struct ck_jar *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->v[i].name);
    free(j->v);
    ck_jar_init(j);
}

static void trim(const char **p, const char **e)
{
    while (*p < *e && (**p == ' ' || **p == '\t'))
        (*p)++;
    while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* The request path's directory (RFC 6265 5.1.4): "/socket.io/?x" -> "/socket.io". */
static size_t default_path(const char *req, char *out, size_t cap)
{
    size_t n = strcspn(req, "?#");
    if (n == 0 || req[0] != '/') {
        snprintf(out, cap, "/");
        return 1;
    }
    const char *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (req[i] == '/')
            last = req + i;
    size_t dl = last == req ? 1 : (size_t)(last - req);
    if (dl >= cap)
        dl = cap - 1;
    memcpy(out, req, dl);
    out[dl] = '\0';
    return dl;
}

/* "Wed, 21 Oct 2015 07:28:00 GMT" (also with dashes, as some servers write it). */
static long long parse_date(const char *p, size_t n)
{
    char buf[64];
    struct tm tm;
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '-')
            *c = ' ';
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    return (long long)timegm(&tm);
}

/* Removes cookie i. */
static void drop(struct ck_jar *j, size_t i)
{
    free(j->v[i].name);
    j->v[i] = j->v[--j->n];
}

int ck_jar_set(struct ck_jar *j, const char *hdr, size_t len, const char *request_path,
               long long now_s)
{
    const char *end = hdr + len, *semi = memchr(hdr, ';', len);
    const char *pair_end = semi ? semi : end;
    const char *eq = memchr(hdr, '=', (size_t)(pair_end - hdr));
    if (eq == NULL)
        return -1;
    const char *np = hdr, *ne = eq, *vp = eq + 1, *ve = pair_end;
    trim(&np, &ne);
    trim(&vp, &ve);
    if (ne == np || (size_t)(ne - np) + (size_t)(ve - vp) > CK_MAX_BYTES)
        return -1;
    for (const char *c = np; c < ne; c++)
        if (*c <= ' ' || *c == '=' || *c == ',' || *c == ';' || (unsigned char)*c >= 0x7f)
            return -1;
    char path[256];
    size_t pl = default_path(request_path, path, sizeof path);
    long long expires = 0;
    int remove = 0, have_max_age = 0;
    /* Attributes. */
    for (const char *a = semi; a && a < end;) {
        const char *next = memchr(a + 1, ';', (size_t)(end - a - 1));
        const char *ap = a + 1, *ae = next ? next : end;
        trim(&ap, &ae);
        const char *aeq = memchr(ap, '=', (size_t)(ae - ap));
        const char *kp = ap, *ke = aeq ? aeq : ae, *xp = aeq ? aeq + 1 : ae, *xe = ae;
        trim(&kp, &ke);
        trim(&xp, &xe);
        size_t kl = (size_t)(ke - kp), xl = (size_t)(xe - xp);
        if (kl == 4 && strncasecmp(kp, "path", 4) == 0 && xl > 0 && xp[0] == '/' &&
            xl < sizeof path) {
            memcpy(path, xp, xl);
            path[xl] = '\0';
            pl = xl;
        } else if (kl == 7 && strncasecmp(kp, "max-age", 7) == 0 && xl > 0 && xl < 16) {
            char num[16];
            memcpy(num, xp, xl);
            num[xl] = '\0';
            char *e;
            long long v = strtoll(num, &e, 10);
            if (*e == '\0') {
                have_max_age = 1;
                remove = v <= 0;
                expires = v > 0 ? now_s + v : 0;
            }
        } else if (kl == 7 && strncasecmp(kp, "expires", 7) == 0 && !have_max_age) {
            long long t = parse_date(xp, xl);
            if (t >= 0) {
                remove = t <= now_s;
                expires = t;
            }
        }
        a = next;
    }
    size_t nl = (size_t)(ne - np), vl = (size_t)(ve - vp);
    for (size_t i = 0; i < j->n; i++) {
        if (strlen(j->v[i].name) == nl && memcmp(j->v[i].name, np, nl) == 0 &&
            strcmp(j->v[i].path, path) == 0) {
            drop(j, i);
            break;
        }
    }
    if (remove)
        return 0;
    if (j->n >= CK_MAX_COOKIES)
        return -1;
    if (j->v == NULL) {
        j->v = malloc(CK_MAX_COOKIES * sizeof *j->v);
        if (j->v == NULL)
            return -1;
    }
    char *mem = malloc(nl + vl + pl + 3);
    if (mem == NULL)
        return -1;
    struct ck_cookie *c = &j->v[j->n++];
    c->name = mem;
    memcpy(c->name, np, nl);
    c->name[nl] = '\0';
    c->value = c->name + nl + 1;
    memcpy(c->value, vp, vl);
    c->value[vl] = '\0';
    c->path = c->value + vl + 1;
    memcpy(c->path, path, pl);
    c->path[pl] = '\0';
    c->expires_s = expires;
    return 1;
}

/* RFC 6265 5.1.4 path-match. */
static int path_match(const char *cookie_path, const char *req, size_t req_len)
{
    size_t cl = strlen(cookie_path);
    if (cl > req_len || memcmp(cookie_path, req, cl) != 0)
        return 0;
    return cl == req_len || cookie_path[cl - 1] == '/' || req[cl] == '/';
}

long ck_jar_header(const struct ck_jar *j, const char *path, long long now_s, char *buf, size_t cap)
{
    size_t rl = strcspn(path, "?#"), o = 0;
    const struct ck_cookie *pick[CK_MAX_COOKIES];
    size_t n = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct ck_cookie *c = &j->v[i];
        if ((c->expires_s == 0 || c->expires_s > now_s) && path_match(c->path, path, rl))
            pick[n++] = c;
    }
    /* Longer paths first (RFC 6265 5.4), stable otherwise. */
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strlen(pick[b]->path) > strlen(pick[b - 1]->path); b--) {
            const struct ck_cookie *t = pick[b];
            pick[b] = pick[b - 1];
            pick[b - 1] = t;
        }
    if (cap > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s=%s", o ? "; " : "", pick[i]->name, pick[i]->value);
        if (w < 0 || (size_t)w >= cap - o)
            return -1;
        o += (size_t)w;
    }
    return (long)o;
}
