/*
 * mongo-init — initiates a replica set of real mongod processes (used by
 * local-cluster/mongo-up when mongod is on PATH) and waits until it has a primary.
 *
 *   mongo-init --port-base 27017 [--members 3] [--set-name rs0] [--host 127.0.0.1]
 *              [--election-timeout 2s] [--log-level info]
 *
 * The set's electionTimeoutMillis is 2 s (MongoDB's default: 10 s), as mongosim's: the lab's
 * fault timelines (a primary killed, paused, cut off) mean the same on either.
 *
 * Exit codes: 0 primary elected, 1 runtime failure (timeout, command error), 2 usage.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flags.h"
#include "log.h"
#include "mongolog.h"

struct init_config {
    long port_base, members, timeout_ms, election_timeout_ms;
    const char *set_name, *host, *log_level;
};

/* Sends replSetInitiate to the first member; "already initialized" counts as success. */
static int initiate(mongoc_client_t *c, const struct init_config *cfg, char *err, size_t errlen)
{
    bson_t cmd = BSON_INITIALIZER, conf, members, reply;
    bson_error_t e;
    BSON_APPEND_DOCUMENT_BEGIN(&cmd, "replSetInitiate", &conf);
    BSON_APPEND_UTF8(&conf, "_id", cfg->set_name);
    BSON_APPEND_ARRAY_BEGIN(&conf, "members", &members);
    for (long i = 0; i < cfg->members; i++) {
        char key[24], host[300];
        bson_t m;
        snprintf(key, sizeof key, "%ld", i);
        snprintf(host, sizeof host, "%s:%ld", cfg->host, cfg->port_base + i);
        BSON_APPEND_DOCUMENT_BEGIN(&members, key, &m);
        BSON_APPEND_INT32(&m, "_id", (int32_t)i);
        BSON_APPEND_UTF8(&m, "host", host);
        bson_append_document_end(&members, &m);
    }
    bson_append_array_end(&conf, &members);
    bson_t settings;
    BSON_APPEND_DOCUMENT_BEGIN(&conf, "settings", &settings);
    BSON_APPEND_INT32(&settings, "electionTimeoutMillis", (int32_t)cfg->election_timeout_ms);
    bson_append_document_end(&conf, &settings);
    bson_append_document_end(&cmd, &conf);
    int ok = mongoc_client_command_simple(c, "admin", &cmd, NULL, &reply, &e);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    if (!ok && e.code != 23 /* AlreadyInitialized */) {
        snprintf(err, errlen, "replSetInitiate: %.400s", e.message);
        return -1;
    }
    return 0;
}

/* Polls hello on the first member until it names a primary. */
static int wait_primary(mongoc_client_t *c, long timeout_ms, char *primary, size_t plen)
{
    int64_t until = bson_get_monotonic_time() / 1000 + timeout_ms;
    bson_t *hello = BCON_NEW("hello", BCON_INT32(1));
    int found = 0;
    while (!found && bson_get_monotonic_time() / 1000 < until) {
        bson_t reply;
        bson_error_t e;
        bson_iter_t it;
        if (mongoc_client_command_simple(c, "admin", hello, NULL, &reply, &e) &&
            bson_iter_init_find(&it, &reply, "primary") && BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(primary, plen, "%s", bson_iter_utf8(&it, NULL));
            found = 1;
        }
        bson_destroy(&reply);
        if (!found)
            usleep(250000);
    }
    bson_destroy(hello);
    return found ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct init_config cfg = {27017, 3, 60000, 2000, "rs0", "127.0.0.1", "info"};
    const struct flag flags[] = {
        {"port-base", "MONGO_PORT_BASE", FLAG_INT, &cfg.port_base, "port of member 0", 1, 65535},
        {"members", "MONGO_MEMBERS", FLAG_INT, &cfg.members, "number of members", 1, 7},
        {"set-name", "MONGO_SET_NAME", FLAG_STR, &cfg.set_name, "replica-set name", 0, 0},
        {"host", "MONGO_HOST", FLAG_STR, &cfg.host, "host the members are reached at", 0, 0},
        {"timeout", "MONGO_INIT_TIMEOUT", FLAG_DURATION, &cfg.timeout_ms,
         "how long to wait for a primary (default 60s)", 1, 3600000},
        {"election-timeout", "MONGO_ELECTION_TIMEOUT", FLAG_DURATION, &cfg.election_timeout_ms,
         "the set's electionTimeoutMillis (default 2s, as mongosim's; MongoDB's own: 10s)", 500,
         600000},
        {"log-level", "MONGO_INIT_LOG_LEVEL", FLAG_STR, &cfg.log_level,
         "debug, info, warn, error or off (default info); the driver's lines too", 0, 0},
    };
    char err[600];
    switch (flags_parse(flags, sizeof flags / sizeof flags[0], argc, argv, NULL, 0, NULL, err,
                        sizeof err)) {
    case FLAGS_HELP:
        flags_usage(stdout, "mongo-init [flags]",
                    "Initiates a replica set of running mongod processes on consecutive ports\n"
                    "and waits until it has a primary.",
                    flags, sizeof flags / sizeof flags[0]);
        return 0;
    case FLAGS_ERROR:
        fprintf(stderr, "mongo-init: %s\n", err);
        return 2;
    case FLAGS_OK:
        break;
    }
    enum log_level lvl;
    if (log_level_from_flag(cfg.log_level, &lvl, err, sizeof err) != 0) {
        fprintf(stderr, "mongo-init: %s\n", err);
        return 2;
    }
    log_init("mongo-init", lvl);
    mongolog_install(); /* the driver's own lines through ours, never on stdout */
    mongoc_init();
    char uri[400], primary[300] = "";
    snprintf(uri, sizeof uri,
             "mongodb://%s:%ld/?directConnection=true&serverSelectionTimeoutMS=%ld", cfg.host,
             cfg.port_base, cfg.timeout_ms);
    mongoc_client_t *c = mongoc_client_new(uri);
    int rc = 1;
    if (c == NULL) {
        LOG_ERROR("bad_uri uri=%s", uri);
        goto out;
    }
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    if (initiate(c, &cfg, err, sizeof err) != 0) {
        LOG_ERROR("initiate_failed err=\"%s\"", err);
        goto out;
    }
    if (wait_primary(c, cfg.timeout_ms, primary, sizeof primary) != 0) {
        LOG_ERROR("no_primary timeout_ms=%ld", cfg.timeout_ms);
        goto out;
    }
    LOG_INFO("initiated set=%s primary=%s", cfg.set_name, primary);
    rc = 0;
out:
    mongoc_client_destroy(c);
    mongoc_cleanup();
    return rc;
}
