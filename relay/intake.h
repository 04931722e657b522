/*
 * intake — parsing and validation of POST /emit bodies:
 *   {"event":"new_product","payload":{...},"id":"<optional idempotency key>",
 *    "channel":"<optional channel; absent = broadcast>"}
 * Pure: no I/O, no globals, so the fuzzer and unit tests can drive it directly.
 */
#ifndef RELAY_INTAKE_H
#define RELAY_INTAKE_H

#include <stddef.h>

#include "envelope.h"

#define INTAKE_ID_MAX 128
#define INTAKE_MAX_DEPTH 32

struct emit_req {
    char event[ENVELOPE_EVENT_MAX + 1];
    char *payload; /* compact JSON, malloc'd: release with emit_req_cleanup */
    size_t payload_len;
    char id[INTAKE_ID_MAX + 1];             /* "" when absent */
    char channel[ENVELOPE_CHANNEL_MAX + 1]; /* "" = broadcast */
};

/*
 * Parses and validates one body. Returns 0 and fills out, or -1 with a message naming the
 * problem in err (the caller answers 400). Never reads past len.
 */
int intake_parse(const char *body, size_t len, struct emit_req *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void emit_req_cleanup(struct emit_req *r);

#endif
