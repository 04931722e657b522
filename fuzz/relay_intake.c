/*
 * libFuzzer target for the relay's intake parser: any byte string must be either accepted
 * (and then re-parse as valid JSON with a valid event name) or rejected with a message,
 * without crashing, leaking or reading out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct emit_req r;
    char err[256];
    if (intake_parse((const char *)data, size, &r, err, sizeof err) == 0) {
        if (!envelope_event_valid(r.event, strlen(r.event)))
            abort();
        json_error_t je;
        json_t *again = json_loadb(r.payload, r.payload_len, 0, &je);
        if (again == NULL || !json_is_object(again))
            abort();
        json_decref(again);
        emit_req_cleanup(&r);
    } else if (err[0] == '\0') {
        abort(); /* every rejection names its problem */
    }
    return 0;
}
