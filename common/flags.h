/*
 * flags — table-driven command-line flags with environment-variable twins.
 *
 * Each program describes its flags once; flags_parse() fills the destinations from the
 * environment first and then from argv (argv wins), and flags_usage() prints --help from
 * the same table, so the two never disagree. Accepted forms: --name value, --name=value,
 * and for booleans --name / --no-name / --name=true|false.
 */
#ifndef RELAYLAB_FLAGS_H
#define RELAYLAB_FLAGS_H

#include <stddef.h>
#include <stdio.h>

enum flag_type {
    FLAG_INT,      /* long; min/max checked */
    FLAG_STR,      /* const char *; points into argv/environ, or into the default */
    FLAG_BOOL,     /* int 0/1 */
    FLAG_SIZE,     /* size_t; accepts k, m, g suffixes (powers of 1024) */
    FLAG_DURATION, /* long milliseconds; accepts ms, s, m, h suffixes (bare number = seconds) */
    FLAG_LIST,     /* struct flag_list: repeatable; the env twin is one more item (argv wins) */
};

#define FLAG_LIST_MAX 16

/* Values of a repeatable flag, in order; each points into argv/environ. */
struct flag_list {
    const char *v[FLAG_LIST_MAX];
    int n;
    int from_env; /* the items came from the environment (argv replaces them) */
};

struct flag {
    const char *name; /* without the leading dashes */
    const char *env;  /* environment twin, or NULL */
    enum flag_type type;
    void *dst;
    const char *help;
    long min, max; /* range for FLAG_INT, FLAG_SIZE, FLAG_DURATION; ignored when both are 0 */
};

enum flags_result { FLAGS_OK = 0, FLAGS_HELP = 1, FLAGS_ERROR = -1 };

/*
 * Parses env twins then argv into the destinations of flags[0..n). Non-flag arguments are
 * collected into positional (which may be NULL when none are allowed) up to max_pos.
 * Returns FLAGS_OK, FLAGS_HELP (--help or -h seen) or FLAGS_ERROR with a message in err.
 */
enum flags_result flags_parse(const struct flag *flags, size_t n, int argc, char **argv,
                              char **positional, size_t max_pos, size_t *npos, char *err,
                              size_t errlen) __attribute__((warn_unused_result));

/*
 * flags_parse for a program without positional arguments, in the convention every config
 * parser returns: 0 parsed, 1 --help asked for, -1 error (message in err).
 */
int flags_parse_program(const struct flag *flags, size_t n, int argc, char **argv, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

/* Prints a usage text: the synopsis, a description, then one line per flag with its env twin. */
void flags_usage(FILE *out, const char *synopsis, const char *description, const struct flag *flags,
                 size_t n);

/* Parsers shared with other modules. Each returns 0, or -1 on a malformed value. */
int flags_parse_long(const char *s, long *out);
int flags_parse_size(const char *s, size_t *out);
int flags_parse_duration_ms(const char *s, long *out);

#endif
