/*
 * verify — after a run, asks the app which products exist.
 *
 * A request whose outcome is unknown (a 5xx, a timeout, a reset: an `info` record, or no
 * outcome at all) may or may not have created its product. With --verify-path, loadgen asks
 * the app once the run is over: GET <target><verify-path> with {{req_id}} replaced by the
 * request id (fakeapp: /products?req_id={{req_id}} answers 200 with the product or 404).
 * --verify-all asks about acknowledged requests too (an acknowledged product that is gone
 * is a durability bug). Each answer is a `verify` history record:
 *   {"t":..,"type":"verify","req_id":"..","exists":true,"status":200,"pod":"app-2"}
 * 200 means exists, 404 means absent; anything else (or no answer) records only `error`,
 * and the request stays unverified. The checker turns these into requests.committed_unknown
 * and events.unannounced.
 */
#ifndef LOADGEN_VERIFY_H
#define LOADGEN_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct lg_verify_totals {
    uint64_t asked, exists, absent, errors;
};

/*
 * Reads the history at path (flushed and complete), asks about every request it should, and
 * appends the verify records to fd (the history, opened O_APPEND). Never fails the run:
 * a check that could not be made is recorded as an error. Fills *out when not NULL.
 */
void lg_verify_run(const struct lg_config *cfg, const char *path, int fd,
                   struct lg_verify_totals *out);

/*
 * Builds the URL for one request id into buf: http://HOST:PORT + the template with every
 * {{req_id}} replaced (the id URL-escaped), or with "?req_id=ID" (or "&...") appended when
 * the template has no placeholder. Returns 0, or -1 when it does not fit.
 */
int lg_verify_url(const struct lg_config *cfg, const char *req_id, char *buf, size_t cap);

#endif
