#include "config.h"

#include <stdio.h>
#include <string.h>

#include "flags.h"

/* Fills table (which must hold 11 entries) with destinations inside cfg. Returns the count. */
static size_t config_table(struct mongosim_config *cfg, struct flag *t)
{
    size_t n = 0;
    t[n++] = (struct flag){"port",
                           "MONGOSIM_PORT",
                           FLAG_INT,
                           &cfg->port,
                           "port of member 0; member i listens on PORT+i (default 27017)",
                           1,
                           65535};
    t[n++] = (struct flag){"members",
                           "MONGOSIM_MEMBERS",
                           FLAG_INT,
                           &cfg->members,
                           "number of replica-set members (default 3)",
                           1,
                           MONGOSIM_MAX_MEMBERS};
    t[n++] = (struct flag){"bind",
                           "MONGOSIM_BIND",
                           FLAG_STR,
                           &cfg->bind,
                           "address to listen on (default 127.0.0.1)",
                           0,
                           0};
    t[n++] = (struct flag){"advertise",
                           "MONGOSIM_ADVERTISE",
                           FLAG_STR,
                           &cfg->advertise,
                           "host name members report in hello (default: the bind address)",
                           0,
                           0};
    t[n++] = (struct flag){"set-name",
                           "MONGOSIM_SET_NAME",
                           FLAG_STR,
                           &cfg->set_name,
                           "replica-set name (default rs0)",
                           0,
                           0};
    t[n++] = (struct flag){"election-timeout",
                           "MONGOSIM_ELECTION_TIMEOUT",
                           FLAG_DURATION,
                           &cfg->election_timeout_ms,
                           "time without a primary before an election (default 2s)",
                           10,
                           600000};
    t[n++] = (struct flag){"stale-primary-ms",
                           "MONGOSIM_STALE_PRIMARY_MS",
                           FLAG_INT,
                           &cfg->stale_primary_ms,
                           "ms a partitioned primary keeps acting as primary before it steps "
                           "down; 0 steps it down at once (default: the election timeout)",
                           0,
                           600000};
    t[n++] = (struct flag){"oplog-max",
                           "MONGOSIM_OPLOG_MAX",
                           FLAG_INT,
                           &cfg->oplog_max,
                           "oplog entries kept for change-stream resumes (default 1000000)",
                           16,
                           100000000};
    t[n++] = (struct flag){"oplog-size-mb",
                           "MONGOSIM_OPLOG_SIZE_MB",
                           FLAG_INT,
                           &cfg->oplog_mb,
                           "oplog size bound in MB, documents counted in full (default 256)",
                           1,
                           65536};
    t[n++] = (struct flag){"max-conns",
                           "MONGOSIM_MAX_CONNS",
                           FLAG_INT,
                           &cfg->max_conns,
                           "open client connections, all members together (default 4096)",
                           1,
                           1000000};
    t[n++] = (struct flag){"log-level",
                           "MONGOSIM_LOG_LEVEL",
                           FLAG_STR,
                           &cfg->log_level_name,
                           "debug, info, warn, error or off (default info)",
                           0,
                           0};
    return n;
}

static void config_defaults(struct mongosim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 27017;
    cfg->members = 3;
    cfg->bind = "127.0.0.1";
    cfg->advertise = NULL;
    cfg->set_name = "rs0";
    cfg->election_timeout_ms = 2000;
    cfg->stale_primary_ms = -1; /* the election timeout, once that is known */
    cfg->oplog_max = 1000000;
    cfg->oplog_mb = 256;
    cfg->max_conns = 4096;
    cfg->log_level_name = "info";
    cfg->log_level = LOG_LEVEL_INFO;
}

int mongosim_config_parse(struct mongosim_config *cfg, int argc, char **argv, char *err,
                          size_t errlen)
{
    struct flag table[11];
    config_defaults(cfg);
    size_t n = config_table(cfg, table);
    switch (flags_parse(table, n, argc, argv, NULL, 0, NULL, err, errlen)) {
    case FLAGS_HELP:
        return MONGOSIM_CONFIG_HELP;
    case FLAGS_ERROR:
        return MONGOSIM_CONFIG_ERROR;
    case FLAGS_OK:
        break;
    }
    if (log_level_parse(cfg->log_level_name, &cfg->log_level) != 0) {
        snprintf(err, errlen, "--log-level: unknown level '%s'", cfg->log_level_name);
        return MONGOSIM_CONFIG_ERROR;
    }
    /* As mongod's primary steps down after electionTimeoutMillis without a majority. */
    if (cfg->stale_primary_ms < 0)
        cfg->stale_primary_ms = cfg->election_timeout_ms;
    if (cfg->port + cfg->members - 1 > 65535) {
        snprintf(err, errlen, "--port %ld with %ld members runs past port 65535", cfg->port,
                 cfg->members);
        return MONGOSIM_CONFIG_ERROR;
    }
    if (cfg->set_name[0] == '\0' || strlen(cfg->set_name) > 64) {
        snprintf(err, errlen, "--set-name must be 1 to 64 characters");
        return MONGOSIM_CONFIG_ERROR;
    }
    if (cfg->bind[0] == '\0' || strlen(cfg->bind) > 200) {
        snprintf(err, errlen, "--bind must be an address");
        return MONGOSIM_CONFIG_ERROR;
    }
    if (cfg->advertise == NULL || cfg->advertise[0] == '\0')
        cfg->advertise = strcmp(cfg->bind, "0.0.0.0") == 0 ? "127.0.0.1" : cfg->bind;
    if (strlen(cfg->advertise) > 200) {
        snprintf(err, errlen, "--advertise is too long");
        return MONGOSIM_CONFIG_ERROR;
    }
    return MONGOSIM_CONFIG_OK;
}

void mongosim_config_usage(FILE *out)
{
    struct mongosim_config dummy;
    struct flag table[11];
    config_defaults(&dummy);
    size_t n = config_table(&dummy, table);
    flags_usage(
        out, "mongosim [flags]",
        "mongosim simulates a MongoDB replica set for tests and demos. It is NOT a database:\n"
        "data lives in memory only, there is no durability, no auth, and only a subset of\n"
        "commands and query operators is implemented. One process serves every member on\n"
        "consecutive ports over the real wire protocol (OP_MSG, legacy OP_QUERY handshake),\n"
        "so unmodified MongoDB drivers see a real-looking replica set.",
        table, n);
    fprintf(out,
            "\nfault commands (run against the admin database of any member; 'member' is the\n"
            "0-based member index, or give host: \"h:p\"; without either the current primary):\n"
            "  {replSetStepDown: SECS}              on the primary: step down, frozen SECS\n"
            "  {mongosimStepDown: 1, secs: SECS}    step down the primary from any member\n"
            "  {mongosimKill: 1, member: I}         stop listening, drop the member's connections\n"
            "  {mongosimRestart: 1, member: I}      listen again; comes back as a secondary\n"
            "  {mongosimPause: 1, member: I}        accept connections but never answer\n"
            "  {mongosimResume: 1, member: I}       answer again\n"
            "  {mongosimPartition: 1, member: I}    cut off from the other members; a primary\n"
            "                                       stays primary --stale-primary-ms (w: 1\n"
            "                                       writes to its own copy, majority ones wait)\n"
            "  {mongosimHeal: 1, member: I}         rejoin the others (as a secondary); what\n"
            "                                       it wrote while cut off is rolled back\n"
            "  {mongosimRollbacks: 1}               rolled-back writes: counts and the last\n"
            "                                       10000 (member, ns, op, _id, doc)\n"
            "  {mongosimLatency: 1, member: I, ms: N}  delay every reply of the member by N ms\n"
            "  {replSetFreeze: SECS}                this member may not become primary for SECS\n"
            "  {mongosimStatus: 1}                  members, primary, term\n"
            "A new primary is elected --election-timeout after the old one is gone, among the\n"
            "members that are up, not paused, not partitioned and not frozen, when a majority is\n"
            "up and connected.\n"
            "\nexit codes: 0 ok (also after SIGTERM/SIGINT), 1 runtime failure, 2 usage\n");
}
