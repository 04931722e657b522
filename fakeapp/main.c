/* fakeapp — see fakeapp --help and docs/fakeapp.md. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "fdlimit.h"
#include "hub.h"
#include "log.h"
#include "signals.h"
#include "store.h"

static volatile sig_atomic_t stopping;

int main(int argc, char **argv)
{
    struct fakeapp_config cfg;
    char err[512];
    int pr = fakeapp_config_parse(&cfg, argc, argv, err, sizeof err);
    if (pr == 1) {
        fakeapp_config_usage(stdout);
        return 0;
    }
    if (pr != 0) {
        fprintf(stderr, "fakeapp: %s\n", err);
        return 2;
    }
    enum log_level lvl = LOG_LEVEL_INFO;
    (void)log_level_parse(cfg.log_level, &lvl);
    log_init("fakeapp", lvl);

    signals_on_stop(&stopping);
    /* The embedded websocket's clients (twice the hub's limit, for polling sessions), the
     * API's connections, MongoDB's pools: raised from a shell's 1,024, lowered from a
     * container's 2^20 (fdlimit.h). */
    struct hub_config hc;
    hub_config_defaults(&hc);
    (void)fdlimit_fit(2L * hc.max_clients + 1100);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    store_global_init();
    int rc = 1;
    struct app *a = app_new(&cfg, &stopping, err, sizeof err);
    if (a == NULL) {
        LOG_ERROR("start_failed error=\"%s\"", err);
    } else {
        rc = app_run(a) == 0 ? 0 : 1;
        app_free(a);
    }
    int abandoned = store_global_cleanup();
    curl_global_cleanup();
    LOG_INFO("fakeapp_exit status=%d", rc);
    if (abandoned) {
        /* A store thread is still inside the MongoDB driver with the store's memory: exit
         * handlers (the driver's, libc's, a leak checker's) must not run under it. */
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return rc;
}
