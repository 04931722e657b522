/* loadgen — websocket clients, an open-model workload, a history and its checker. */
#include <curl/curl.h>
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "run.h"

int main(int argc, char **argv)
{
    static struct lg_config cfg;
    char err[512];
    int rc = lg_config_parse(&cfg, argc, argv, stdout, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    enum log_level level;
    if (log_level_parse(cfg.log_level, &level) != 0) {
        fprintf(stderr, "loadgen: unknown --log-level '%s'\n", cfg.log_level);
        lg_config_cleanup(&cfg);
        return 2;
    }
    log_init("loadgen", level);
    if (lg_validate_expects(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        lg_config_cleanup(&cfg);
        return 2;
    }
    if (cfg.mode == LG_MODE_CHECK) {
        rc = lg_check_history(&cfg);
    } else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        LOG_ERROR("curl_init_failed");
        rc = 1;
    } else {
        rc = lg_run(&cfg);
        curl_global_cleanup();
    }
    lg_config_cleanup(&cfg);
    return rc;
}
