/*
 * run — `loadgen run` and `loadgen check` end to end: clients, producer, progress, history,
 * checker, report. Each returns the process exit status (0 pass, 1 failure).
 */
#ifndef LOADGEN_RUN_H
#define LOADGEN_RUN_H

#include "config.h"

int lg_run(const struct lg_config *cfg);
int lg_check_history(const struct lg_config *cfg);

/* Checks every --expect name against the report's shape. Returns 0, or -1 with err (usage). */
int lg_validate_expects(const struct lg_config *cfg, char *err, size_t errlen);

#endif
