/*
 * hub_send — how a client's pre-framed bytes reach its socket (lws service thread only).
 *
 * Frames are sent with one send() as soon as they are due, without waiting for POLLOUT:
 * the socket nearly always has room. Whatever the socket does not take is copied into lws's
 * buffered-out list (lws_write RAW): lws sends it before anything else once the socket
 * drains (its own pings and close frames included, so nothing interleaves inside a frame)
 * and then calls the writeable callback. While lws holds such a tail, frames go through
 * lws too, appended in order.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "hub_impl.h"

/*
 * Copies fs' bytes after the first `skip` into lws's buffered-out list, in batch-sized writes.
 * lws_write() RAW returns -1 when the connection failed; otherwise it has sent or kept all of
 * it. The count it returns is not ours when lws already held a tail: it appends our bytes
 * and returns what it could send of the oldest of its own (often 0). So only -1 is a failure:
 * a client whose socket is full must not be closed as a failed write when the keepalive
 * ping is due (it is closed as slow once past --queue-limit).
 */
static int hand_to_lws(struct hub *h, struct lws *wsi, struct frame *const *fs, int nf, size_t skip)
{
    unsigned char *b = h->batch + LWS_PRE;
    size_t n = 0;
    for (int i = 0; i < nf; i++) {
        const unsigned char *p = frame_wire(fs[i]);
        size_t len = frame_wire_len(fs[i]);
        if (skip >= len) {
            skip -= len;
            continue;
        }
        p += skip;
        len -= skip;
        skip = 0;
        while (len > 0) {
            size_t take = len < HUB_BATCH_BYTES - n ? len : HUB_BATCH_BYTES - n;
            memcpy(b + n, p, take);
            n += take;
            p += take;
            len -= take;
            if (n == HUB_BATCH_BYTES) {
                if (lws_write(wsi, b, n, LWS_WRITE_RAW) < 0)
                    return -1;
                n = 0;
            }
        }
    }
    if (n > 0 && lws_write(wsi, b, n, LWS_WRITE_RAW) < 0)
        return -1;
    return 0;
}

int hub_send_frames(struct hub *h, struct hub_client *c, struct frame *const *fs, int nf,
                    size_t bytes)
{
    struct lws *wsi = c->wsi;
    size_t sent = 0;
    if (nf <= 0)
        return 0;
    if (bytes <= HUB_BATCH_BYTES && !lws_is_ssl(wsi) && !lws_partial_buffered(wsi)) {
        /* One frame goes from its own buffer; several are copied into one contiguous run
         * first: the kernel copies one long segment faster than dozens of short ones
         * (sendmsg with an iovec per frame cost 14 % more CPU per delivery). */
        const unsigned char *p = frame_wire(fs[0]);
        if (nf > 1) {
            unsigned char *b = h->batch + LWS_PRE;
            for (int i = 0; i < nf; i++) {
                memcpy(b, frame_wire(fs[i]), frame_wire_len(fs[i]));
                b += frame_wire_len(fs[i]);
            }
            p = h->batch + LWS_PRE;
        }
        ssize_t n = send(lws_get_socket_fd(wsi), p, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        sent = n > 0 ? (size_t)n : 0;
        if (sent == bytes)
            return 0;
    }
    return hand_to_lws(h, wsi, fs, nf, sent);
}

int hub_send_job_done(struct hub *h, struct hub_client *c, struct frame *f,
                      const struct hub_send_job *j)
{
    if (j->sent < 0 && j->err != EAGAIN && j->err != EWOULDBLOCK)
        return -1;
    size_t sent = j->sent > 0 ? (size_t)j->sent : 0;
    if (sent == j->len)
        return 0;
    return hand_to_lws(h, c->wsi, &f, 1, sent);
}

void hub_send_cork(struct lws *wsi, int on)
{
    /* Best effort: without it the 101 and the first frames go as two segments. */
    (void)setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}
