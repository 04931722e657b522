/*
 * libFuzzer target for mongosim's message parser: the input is one or more raw wire
 * messages as they would arrive on a socket. Every complete frame is parsed; parsed
 * commands are also run through the query checker and matcher, which read client BSON.
 * Build: see `make fuzz` (clang -fsanitize=fuzzer,address).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../mongosim/query.h"
#include "../mongosim/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        char err[256];
        int32_t n = wire_frame_length(data + off, size - off, err, sizeof err);
        if (n <= 0 || (size_t)n > size - off)
            break;
        struct wire_msg msg;
        if (wire_parse(data + off, (size_t)n, &msg, err, sizeof err) == 0) {
            bson_t filter;
            bson_iter_t it;
            if (bson_iter_init_find(&it, &msg.cmd, "filter") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                uint32_t l;
                const uint8_t *d;
                bson_iter_document(&it, &l, &d);
                if (bson_init_static(&filter, d, l) && query_check(&filter, err, sizeof err) == 0)
                    (void)query_match(&msg.cmd, &filter);
            }
            wire_msg_cleanup(&msg);
        }
        off += (size_t)n;
    }
    return 0;
}
