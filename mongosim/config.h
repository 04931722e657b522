/*
 * config — mongosim's command-line flags and their MONGOSIM_* environment twins.
 */
#ifndef MONGOSIM_CONFIG_H
#define MONGOSIM_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define MONGOSIM_MAX_MEMBERS 7

struct mongosim_config {
    long port;                /* port of member 0; member i listens on port + i */
    long members;             /* 1..MONGOSIM_MAX_MEMBERS */
    const char *bind;         /* address to listen on */
    const char *advertise;    /* host name put in hello's hosts/me; defaults to bind */
    const char *set_name;     /* replica-set name */
    long election_timeout_ms; /* no primary for this long → election */
    long stale_primary_ms;    /* a partitioned primary stays primary this long (0: steps down) */
    long oplog_max;           /* oplog entries kept for change streams */
    long oplog_mb;            /* and about this many MB */
    long max_conns;           /* open client connections, all members together */
    const char *log_level_name;
    enum log_level log_level;
};

enum { MONGOSIM_CONFIG_OK = 0, MONGOSIM_CONFIG_HELP = 1, MONGOSIM_CONFIG_ERROR = -1 };

/*
 * Fills cfg from the environment (MONGOSIM_*) and argv (argv wins). Pure apart from
 * reading the environment. Returns MONGOSIM_CONFIG_OK, MONGOSIM_CONFIG_HELP (--help seen)
 * or MONGOSIM_CONFIG_ERROR with a message in err. Strings in cfg point into argv, environ
 * or static defaults.
 */
int mongosim_config_parse(struct mongosim_config *cfg, int argc, char **argv, char *err,
                          size_t errlen) __attribute__((warn_unused_result));

/* Prints --help: what mongosim is (a simulator, not a database), flags and fault commands. */
void mongosim_config_usage(FILE *out);

#endif
