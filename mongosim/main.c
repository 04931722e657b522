/* mongosim — a MongoDB replica-set simulator for tests and demos (not a database). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "signals.h"
#include "sim.h"

static volatile sig_atomic_t stopping;

int main(int argc, char **argv)
{
    struct mongosim_config cfg;
    char err[512] = "";
    int rc = mongosim_config_parse(&cfg, argc, argv, err, sizeof err);
    if (rc == MONGOSIM_CONFIG_HELP) {
        mongosim_config_usage(stdout);
        return 0;
    }
    if (rc != MONGOSIM_CONFIG_OK) {
        fprintf(stderr, "mongosim: %s\n", err);
        return 2;
    }
    log_init("mongosim", cfg.log_level);
    signals_on_stop(&stopping);

    struct msim *sim = msim_new(&cfg, err, sizeof err);
    struct server *srv = sim ? server_new(sim, err, sizeof err) : NULL;
    if (srv == NULL) {
        LOG_ERROR("startup_failed err=\"%s\"", err);
        msim_free(sim);
        return 1;
    }
    LOG_INFO("ready set=%s members=%ld port=%ld election_timeout_ms=%ld note=\"simulator, not a "
             "database\"",
             cfg.set_name, cfg.members, cfg.port, cfg.election_timeout_ms);
    rc = server_run(srv, &stopping);
    server_free(srv);
    msim_free(sim);
    return rc == 0 ? 0 : 1;
}
