/*
 * report — turns a checker result into the JSON report, the summary table and JUnit XML,
 * and evaluates the expectations against the JSON (so `--expect` names are JSON paths).
 */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "checker.h"
#include "expect.h"

/* Builds the report; details adds "per_client". Returns a new reference (caller decrefs) or NULL.
 */
json_t *lg_report_json(const struct lg_result *r, int details);

/* Prints the human summary table. */
void lg_report_table(FILE *out, const struct lg_result *r);

struct lg_output {
    const char *json_path;  /* or NULL */
    const char *junit_path; /* or NULL */
    const struct lg_expect *expects;
    size_t nexpects;
    int details;            /* per-client entries in the JSON */
    FILE *table;            /* where the table and the expectation lines go, or NULL */
    const char *facts_path; /* a JSON object put in the report as "lab" (check --facts), or NULL */
};

/*
 * Writes the outputs o asks for and evaluates every expectation. Returns 0 when all hold,
 * 1 when one fails or an output could not be written (the message goes to the log).
 */
int lg_report_verdict(const struct lg_result *r, const struct lg_output *o);

#endif
