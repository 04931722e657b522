/*
 * expect — `--expect` expressions: NAME OP NUMBER, OP one of >= <= == != > <.
 *
 * NAME is a dotted path into the JSON report (`delivery_ratio`, `events.lost`,
 * `latency_ms.p99`, `requests_per_pod.app-1`) or a short alias (`lost` = events.lost,
 * `p99` = latency_ms.p99, ...; see docs/loadgen.md). An expectation on a value that is null
 * (a ratio with nothing to divide, a percentile with no samples) fails.
 */
#ifndef LOADGEN_EXPECT_H
#define LOADGEN_EXPECT_H

#include <jansson.h>
#include <stddef.h>

enum lg_op { LG_OP_GE, LG_OP_LE, LG_OP_EQ, LG_OP_NE, LG_OP_GT, LG_OP_LT };

struct lg_expect {
    char text[160]; /* as written, for messages and JUnit case names */
    char path[128]; /* canonical dotted path */
    enum lg_op op;
    double value;
};

/* Parses s into e. Returns 0, or -1 with a message in err (a usage error). */
int lg_expect_parse(const char *s, struct lg_expect *e, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Checks that e's path names a number in a report shaped like `report` (values may be null).
 * Names under requests_per_pod are always accepted (a pod that served nothing counts 0).
 * Returns 0, or -1 with a message in err.
 */
int lg_expect_validate(const struct lg_expect *e, const json_t *report, char *err, size_t errlen);

/*
 * Evaluates e against report. Returns 1 when it holds, 0 when it does not (msg says why:
 * the actual value, or that it is null or missing).
 */
int lg_expect_eval(const struct lg_expect *e, const json_t *report, char *msg, size_t msglen);

/*
 * The number e's path names in report (a pod that served nothing counts 0). Returns 1 with
 * *x set, or 0 when the value is null, missing or not a number.
 */
int lg_expect_actual(const struct lg_expect *e, const json_t *report, double *x);

const char *lg_op_name(enum lg_op op);

#endif
