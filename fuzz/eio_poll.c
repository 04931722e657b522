/*
 * libFuzzer target for the Engine.IO long-polling parsers: a POST body is either refused with
 * a message, or every packet in it is non-empty and classifies as a valid Engine.IO/Socket.IO
 * packet; offset strings parse only into a valid epoch; nothing crashes, leaks or reads out
 * of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio.h"
#include "eio_poll.h"
#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char err[128];
    err[0] = '\0';
    if (eio_payload_check(body, size, 256, err, sizeof err) == 0) {
        if (!eio_utf8_valid(body, size))
            abort();
        size_t pos = 0, n, count = 0;
        const char *p;
        while (eio_payload_next(body, size, &pos, &p, &n)) {
            struct eio_sio s;
            if (n == 0 || eio_classify(p, n, &s) == EIO_INVALID || ++count > 256)
                abort();
            if (s.plen > n || (s.plen && (s.payload < p || s.payload + s.plen > p + n)))
                abort(); /* the located payload lies inside the packet */
        }
    } else if (err[0] == '\0') {
        abort(); /* every refusal names its problem */
    }
    struct eio_sio s;
    (void)eio_classify(body, size, &s);
    char epoch[ENVELOPE_EPOCH_BUF];
    uint64_t off;
    if (eio_offset_parse(body, size, epoch, sizeof epoch, &off) == 0 &&
        !envelope_epoch_valid(epoch))
        abort();
    return 0;
}
