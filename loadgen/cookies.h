/*
 * cookies — one client's cookie jar, as a browser keeps it for one origin.
 *
 * Session affinity by cookie (ingress-nginx `affinity: cookie`, Socket.IO's `io` cookie)
 * only shows up when each client stores the Set-Cookie headers it received and sends them
 * back on every later request, the websocket upgrade included. This jar does that for a
 * single host: Domain is ignored, Path is honoured (default: the request path's directory,
 * RFC 6265 5.1.4), Max-Age and Expires remove or expire cookies. Bounded: at most
 * CK_MAX_COOKIES cookies of at most CK_MAX_BYTES (name + value) each. No I/O.
 */
#ifndef LOADGEN_COOKIES_H
#define LOADGEN_COOKIES_H

#include <stddef.h>

#define CK_MAX_COOKIES 32
#define CK_MAX_BYTES 4096

struct ck_cookie {
    char *name, *value, *path; /* one allocation: name, then value, then path */
    long long expires_s;       /* 0 = session cookie; else CLOCK_REALTIME seconds */
};

struct ck_jar {
    struct ck_cookie *v; /* NULL until the first cookie: most clients never get one */
    size_t n;
};

void ck_jar_init(struct ck_jar *j);
void ck_jar_cleanup(struct ck_jar *j); /* frees every cookie */

/*
 * Applies one Set-Cookie header value received in answer to a request for request_path
 * (query ignored). now_s is the current time (CLOCK_REALTIME seconds). Returns 1 stored,
 * 0 removed (expired / Max-Age<=0), -1 ignored (malformed, too big, jar full, or memory).
 */
int ck_jar_set(struct ck_jar *j, const char *hdr, size_t len, const char *request_path,
               long long now_s);

/*
 * Writes the Cookie header value for a request to path ("a=1; b=2", longer paths first) into
 * buf. Returns its length (0 when no cookie applies), or -1 when it does not fit cap.
 */
long ck_jar_header(const struct ck_jar *j, const char *path, long long now_s, char *buf,
                   size_t cap);

#endif
