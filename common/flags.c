#include "flags.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int flags_parse_long(const char *s, long *out)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int flags_parse_size(const char *s, size_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    unsigned long long mul = 1;
    if (*end != '\0') {
        switch (*end | 0x20) {
        case 'k':
            mul = 1024ULL;
            break;
        case 'm':
            mul = 1024ULL * 1024;
            break;
        case 'g':
            mul = 1024ULL * 1024 * 1024;
            break;
        default:
            return -1;
        }
        end++;
        if ((*end | 0x20) == 'b' || (*end | 0x20) == 'i') /* allow 16kb, 16Ki, 16KiB */
            end++;
        if ((*end | 0x20) == 'b')
            end++;
        if (*end != '\0')
            return -1;
    }
    if (v > SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int flags_parse_duration_ms(const char *s, long *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s)
        return -1;
    double mul;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return -1;
    double ms = v * mul;
    if (ms < 0 || ms > (double)LONG_MAX / 2)
        return -1;
    *out = (long)(ms + 0.5);
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
        strcasecmp(s, "on") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
        strcasecmp(s, "off") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* Stores value into f's destination. source names where it came from, for the message. */
static int set_value(const struct flag *f, const char *value, const char *source, char *err,
                     size_t errlen)
{
    int ranged = !(f->min == 0 && f->max == 0);
    switch (f->type) {
    case FLAG_STR:
        *(const char **)f->dst = value;
        return 0;
    case FLAG_LIST: {
        struct flag_list *l = f->dst;
        int env = strncmp(source, "environment", 11) == 0;
        if (!env && l->from_env)
            l->n = 0;
        l->from_env = env;
        if (l->n == FLAG_LIST_MAX) {
            snprintf(err, errlen, "%s: --%s given more than %d times", source, f->name,
                     FLAG_LIST_MAX);
            return -1;
        }
        l->v[l->n++] = value;
        return 0;
    }
    case FLAG_BOOL:
        if (parse_bool(value, (int *)f->dst) != 0) {
            snprintf(err, errlen, "%s: --%s expects true or false, got '%s'", source, f->name,
                     value);
            return -1;
        }
        return 0;
    case FLAG_INT: {
        long v;
        if (flags_parse_long(value, &v) != 0) {
            snprintf(err, errlen, "%s: --%s expects an integer, got '%s'", source, f->name, value);
            return -1;
        }
        if (ranged && (v < f->min || v > f->max)) {
            snprintf(err, errlen, "%s: --%s must be between %ld and %ld, got %ld", source, f->name,
                     f->min, f->max, v);
            return -1;
        }
        *(long *)f->dst = v;
        return 0;
    }
    case FLAG_SIZE: {
        size_t v;
        if (flags_parse_size(value, &v) != 0) {
            snprintf(err, errlen, "%s: --%s expects a size like 65536 or 64k, got '%s'", source,
                     f->name, value);
            return -1;
        }
        if (ranged && (v < (size_t)f->min || v > (size_t)f->max)) {
            snprintf(err, errlen, "%s: --%s must be between %ld and %ld bytes, got %zu", source,
                     f->name, f->min, f->max, v);
            return -1;
        }
        *(size_t *)f->dst = v;
        return 0;
    }
    case FLAG_DURATION: {
        long v;
        if (flags_parse_duration_ms(value, &v) != 0) {
            snprintf(err, errlen, "%s: --%s expects a duration like 500ms, 30s or 2m, got '%s'",
                     source, f->name, value);
            return -1;
        }
        if (ranged && (v < f->min || v > f->max)) {
            snprintf(err, errlen, "%s: --%s must be between %ldms and %ldms, got %ldms", source,
                     f->name, f->min, f->max, v);
            return -1;
        }
        *(long *)f->dst = v;
        return 0;
    }
    }
    return -1;
}

enum flags_result flags_parse(const struct flag *flags, size_t n, int argc, char **argv,
                              char **positional, size_t max_pos, size_t *npos, char *err,
                              size_t errlen)
{
    if (npos)
        *npos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = flags[i].env ? getenv(flags[i].env) : NULL;
        if (v == NULL || *v == '\0')
            continue;
        char src[128];
        snprintf(src, sizeof src, "environment %s", flags[i].env);
        if (set_value(&flags[i], v, src, err, errlen) != 0)
            return FLAGS_ERROR;
    }
    for (int a = 1; a < argc; a++) {
        char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return FLAGS_HELP;
        if (strcmp(arg, "--") == 0) {
            for (a++; a < argc; a++) {
                if (positional == NULL || *npos >= max_pos) {
                    snprintf(err, errlen, "unexpected argument '%s'", argv[a]);
                    return FLAGS_ERROR;
                }
                positional[(*npos)++] = argv[a];
            }
            break;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (positional == NULL || *npos >= max_pos) {
                snprintf(err, errlen, "unexpected argument '%s'", arg);
                return FLAGS_ERROR;
            }
            positional[(*npos)++] = arg;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = NULL;
        int negated = 0;
        for (size_t i = 0; i < n; i++) {
            if (strlen(flags[i].name) == nlen && strncmp(flags[i].name, name, nlen) == 0) {
                f = &flags[i];
                break;
            }
            if (flags[i].type == FLAG_BOOL && nlen == strlen(flags[i].name) + 3 &&
                strncmp(name, "no-", 3) == 0 && strncmp(flags[i].name, name + 3, nlen - 3) == 0) {
                f = &flags[i];
                negated = 1;
                break;
            }
        }
        if (f == NULL) {
            snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)nlen, name);
            return FLAGS_ERROR;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
            if (negated) {
                snprintf(err, errlen, "--%.*s takes no value", (int)nlen, name);
                return FLAGS_ERROR;
            }
        } else if (f->type == FLAG_BOOL) {
            value = negated ? "false" : "true";
        } else {
            if (a + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value", f->name);
                return FLAGS_ERROR;
            }
            value = argv[++a];
        }
        if (set_value(f, value, "flag", err, errlen) != 0)
            return FLAGS_ERROR;
    }
    return FLAGS_OK;
}

int flags_parse_program(const struct flag *flags, size_t n, int argc, char **argv, char *err,
                        size_t errlen)
{
    switch (flags_parse(flags, n, argc, argv, NULL, 0, NULL, err, errlen)) {
    case FLAGS_OK:
        return 0;
    case FLAGS_HELP:
        return 1;
    case FLAGS_ERROR:
        break;
    }
    return -1;
}

void flags_usage(FILE *out, const char *synopsis, const char *description, const struct flag *flags,
                 size_t n)
{
    static const char *kinds[] = {"N", "STR", "", "SIZE", "DUR", "STR..."};
    fprintf(out, "usage: %s\n\n%s\n\nflags (each with an environment twin):\n", synopsis,
            description);
    for (size_t i = 0; i < n; i++) {
        char left[96];
        snprintf(left, sizeof left, "  --%s%s%s", flags[i].name,
                 flags[i].type == FLAG_BOOL ? "" : " ", kinds[flags[i].type]);
        fprintf(out, "%-30s %s", left, flags[i].help);
        if (flags[i].env)
            fprintf(out, " [env %s]", flags[i].env);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n", "--help", "print this text and exit");
    for (size_t i = 0; i < n; i++)
        if (flags[i].type == FLAG_BOOL) {
            fprintf(out, "Switches (no value) are turned off with --no-NAME or --NAME=false "
                         "(env: 0/1, true/false).\n");
            break;
        }
}
