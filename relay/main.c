/* relay — see relay --help and docs/relay.md. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fdlimit.h"
#include "log.h"
#include "mongolog.h"
#include "signals.h"
#include "server.h"

static volatile sig_atomic_t stopping;

/* Each client is a descriptor, a Socket.IO polling session up to two (a waiting GET and a
 * POST): the soft limit becomes twice --max-clients plus 1,100 (the intake's 1,024,
 * MongoDB's pools, logs), at most the hard limit, and the relay says so when that is still
 * short (past it, connections would wait unserved in the kernel's backlog). Lowered too
 * when it is higher: lws walks a table of that size on every close (fdlimit.h). */
static void fit_nofile(long max_clients)
{
    long got = fdlimit_fit(2 * max_clients + 1100);
    if (got >= 0 && got < max_clients + 64)
        LOG_WARN("fd_limit_low nofile=%ld max_clients=%ld hint=\"raise ulimit -n (hard) above "
                 "--max-clients + 64, or lower --max-clients\"",
                 got, max_clients);
}

int main(int argc, char **argv)
{
    struct relay_config cfg;
    char err[512];
    int pr = relay_config_parse(&cfg, argc, argv, err, sizeof err);
    if (pr == 1) {
        relay_config_usage(stdout);
        return 0;
    }
    if (pr != 0) {
        fprintf(stderr, "relay: %s\n", err);
        return 2;
    }
    enum log_level lvl = LOG_LEVEL_INFO;
    (void)log_level_parse(cfg.log_level, &lvl);
    log_init("relay", lvl);
    mongolog_install(); /* the MongoDB driver's log through ours (relays over MongoDB) */

    signals_on_stop(&stopping);
    fit_nofile(cfg.max_clients);

    struct relay *r = relay_new(&cfg, &stopping, err, sizeof err);
    if (r == NULL) {
        if (stopping) { /* SIGTERM while it waited for MongoDB: a clean stop, not a failure */
            LOG_INFO("relay_exit status=0 before_start=\"%s\"", err);
            return 0;
        }
        LOG_ERROR("start_failed error=\"%s\"", err);
        return 1;
    }
    int rc = relay_run(r);
    int abandoned = relay_free(r);
    LOG_INFO("relay_exit status=%d", rc == 0 ? 0 : 1);
    if (abandoned) {
        /* A store thread is still inside the MongoDB driver: exit handlers (the driver's,
         * libc's, a leak checker's) must not run under it. What it holds dies with us. */
        fflush(stdout);
        fflush(stderr);
        _exit(rc == 0 ? 0 : 1);
    }
    return rc == 0 ? 0 : 1;
}
