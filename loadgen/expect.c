#include "expect.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Short names for the most used paths. "failed" is ambiguous and therefore not an alias. */
static const struct {
    const char *alias, *path;
} aliases[] = {
    {"expected", "events.expected"},
    {"received", "events.received"},
    {"lost", "events.lost"},
    {"duplicated", "events.duplicated"},
    {"out_of_order", "events.out_of_order"},
    {"unexpected", "events.unexpected"},
    {"frames", "events.frames"},
    {"sent", "requests.sent"},
    {"ok", "requests.ok"},
    {"unknown", "requests.unknown"},
    {"p50", "latency_ms.p50"},
    {"p90", "latency_ms.p90"},
    {"p99", "latency_ms.p99"},
    {"p999", "latency_ms.p999"},
    {"opened", "connections.opened"},
    {"dropped", "connections.dropped"},
    {"recovered", "connections.recovered"},
    {"gap_lost", "events.gap_lost"},
    {"missed", "events.missed"},
    {"undelivered", "events.undelivered"},
    {"unannounced", "events.unannounced"},
    {"unknown_lost", "events.unknown_lost"},
    {"committed_unknown", "requests.committed_unknown"},
};

static const struct {
    const char *text;
    enum lg_op op;
} ops[] = {
    {">=", LG_OP_GE}, {"<=", LG_OP_LE}, {"==", LG_OP_EQ},
    {"!=", LG_OP_NE}, {">", LG_OP_GT},  {"<", LG_OP_LT},
};

const char *lg_op_name(enum lg_op op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].op == op)
            return ops[i].text;
    return "?";
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

int lg_expect_parse(const char *s, struct lg_expect *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (strlen(s) >= sizeof e->text) {
        snprintf(err, errlen, "expectation too long: '%.40s...'", s);
        return -1;
    }
    snprintf(e->text, sizeof e->text, "%s", s);
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    const char *name = p;
    while (name_char(*p))
        p++;
    size_t nlen = (size_t)(p - name);
    if (nlen == 0 || nlen >= sizeof e->path || name[0] == '.' || name[nlen - 1] == '.') {
        snprintf(err, errlen, "expectation '%s': expected NAME OP NUMBER, e.g. lost==0", s);
        return -1;
    }
    while (isspace((unsigned char)*p))
        p++;
    size_t i;
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t ol = strlen(ops[i].text);
        if (strncmp(p, ops[i].text, ol) == 0) {
            e->op = ops[i].op;
            p += ol;
            break;
        }
    }
    if (i == sizeof ops / sizeof ops[0]) {
        snprintf(err, errlen, "expectation '%s': missing operator (one of >= <= == != > <)", s);
        return -1;
    }
    while (isspace((unsigned char)*p))
        p++;
    char *end;
    errno = 0;
    e->value = strtod(p, &end);
    if (end == p || errno != 0 || !isfinite(e->value)) {
        snprintf(err, errlen, "expectation '%s': the right side must be a number", s);
        return -1;
    }
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0') {
        snprintf(err, errlen, "expectation '%s': unexpected text after the number: '%s'", s, end);
        return -1;
    }
    if (nlen == 6 && strncmp(name, "failed", 6) == 0) {
        snprintf(
            err, errlen,
            "expectation '%s': 'failed' is ambiguous, write requests.failed or connections.failed",
            s);
        return -1;
    }
    memcpy(e->path, name, nlen);
    e->path[nlen] = '\0';
    for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(e->path, aliases[i].alias) == 0) {
            snprintf(e->path, sizeof e->path, "%s", aliases[i].path);
            break;
        }
    }
    return 0;
}

/* Follows the dotted path. Returns the value, or NULL when a component is missing. */
static const json_t *lookup(const json_t *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *v = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, tok);
        if (v == NULL)
            return NULL;
    }
    return v;
}

static int per_pod(const char *path)
{
    return strncmp(path, "requests_per_pod.", 17) == 0 && path[17] != '\0';
}

int lg_expect_validate(const struct lg_expect *e, const json_t *report, char *err, size_t errlen)
{
    /* lab.*: the runner's own facts (check --facts), known only when the run is judged. */
    if (per_pod(e->path) || (strncmp(e->path, "lab.", 4) == 0 && e->path[4] != '\0'))
        return 0;
    const json_t *v = lookup(report, e->path);
    if (v == NULL || !(json_is_number(v) || json_is_null(v))) {
        snprintf(err, errlen,
                 "expectation '%s': '%s' is not a number in the report (see docs/loadgen.md)",
                 e->text, e->path);
        return -1;
    }
    return 0;
}

int lg_expect_actual(const struct lg_expect *e, const json_t *report, double *x)
{
    const json_t *v = lookup(report, e->path);
    if (v == NULL && per_pod(e->path)) {
        *x = 0;
        return 1;
    }
    if (v == NULL || !json_is_number(v))
        return 0;
    *x = json_number_value(v);
    return 1;
}

int lg_expect_eval(const struct lg_expect *e, const json_t *report, char *msg, size_t msglen)
{
    const json_t *v = lookup(report, e->path);
    double x;
    if (v == NULL && per_pod(e->path)) {
        x = 0;
    } else if (v == NULL) {
        snprintf(msg, msglen, "%s is missing from the report", e->path);
        return 0;
    } else if (json_is_null(v)) {
        snprintf(msg, msglen, "%s is null (nothing was measured)", e->path);
        return 0;
    } else if (json_is_number(v)) {
        x = json_number_value(v);
    } else {
        snprintf(msg, msglen, "%s is not a number", e->path);
        return 0;
    }
    double tol = 1e-9 * fmax(1.0, fabs(e->value));
    int ok = 0;
    switch (e->op) {
    case LG_OP_GE:
        ok = x >= e->value - tol;
        break;
    case LG_OP_LE:
        ok = x <= e->value + tol;
        break;
    case LG_OP_EQ:
        ok = fabs(x - e->value) <= tol;
        break;
    case LG_OP_NE:
        ok = fabs(x - e->value) > tol;
        break;
    case LG_OP_GT:
        ok = x > e->value;
        break;
    case LG_OP_LT:
        ok = x < e->value;
        break;
    }
    snprintf(msg, msglen, "%s = %.6g, expected %s %.6g", e->path, x, lg_op_name(e->op), e->value);
    return ok;
}
