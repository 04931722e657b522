/*
 * wsprint — prints every message from a websocket, one per line: the smallest client
 * for poking at the relay or an embedded app by hand.
 *
 *   wsprint [--count N] [--timeout SECONDS] ws://HOST:PORT/PATH
 *
 * Exits 0 after N messages or the timeout, 1 when the connection cannot be opened (refused,
 * upgrade refused) or closes before N messages.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsclient.h"

static volatile sig_atomic_t stop;
static int opened, received, closed, close_code, want = -1;
static char close_reason[128];

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

static void on_open(struct wsc *c, void *ud)
{
    (void)c;
    (void)ud;
    opened = 1;
}

static void on_message(struct wsc *c, const char *d, size_t n, int binary, void *ud)
{
    (void)c;
    (void)ud;
    if (binary)
        printf("<binary %zu bytes>\n", n);
    else
        printf("%.*s\n", (int)n, d);
    fflush(stdout);
    received++;
}

static void on_close(struct wsc *c, int code, const char *reason, void *ud)
{
    (void)c;
    (void)ud;
    closed = 1;
    close_code = code;
    snprintf(close_reason, sizeof close_reason, "%s", reason ? reason : "");
}

int main(int argc, char **argv)
{
    double timeout = 0;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            want = atoi(argv[++i]);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = atof(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: wsprint [--count N] [--timeout SECONDS] ws://HOST:PORT/PATH\n"
                   "Prints each websocket message on its own line. Exits 0 after N messages\n"
                   "or the timeout, 1 when the connection cannot be opened or closes before\n"
                   "N messages, 2 on usage errors.\n");
            return 0;
        } else
            url = argv[i];
    }
    char host[256], path[1024] = "/";
    int port = 80;
    if (url == NULL || sscanf(url, "ws://%255[^:/]:%d%1023s", host, &port, path) < 2) {
        if (url == NULL || sscanf(url, "ws://%255[^:/]%1023s", host, path) < 1) {
            fprintf(stderr, "wsprint: need a ws://HOST:PORT/PATH url (see --help)\n");
            return 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char err[256];
    struct wsc_callbacks cb = {.on_open = on_open, .on_message = on_message, .on_close = on_close};
    struct wsc_pool *p = wsc_pool_new(1, &cb, NULL, err, sizeof err);
    if (p == NULL) {
        fprintf(stderr, "wsprint: %s\n", err);
        return 1;
    }
    struct wsc_options o = {.host = host, .port = port, .path = path};
    if (wsc_connect(p, &o, err, sizeof err) == NULL) {
        fprintf(stderr, "wsprint: %s\n", err);
        wsc_pool_free(p);
        return 1;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!stop && !closed && (want < 0 || received < want)) {
        wsc_pool_service(p, 100);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (timeout > 0 &&
            (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > timeout)
            break;
    }
    int rc = 0;
    if (closed) {
        fprintf(stderr, "wsprint: closed code=%d reason=\"%s\"\n", close_code, close_reason);
        rc = (!opened || (want >= 0 && received < want)) ? 1 : 0;
    }
    wsc_pool_free(p);
    return rc;
}
