/*
 * httpd_linger — lingering close for refused requests, as nginx does it.
 *
 * When the server refuses a request whose body is still arriving (413, 401, 408, ...) and
 * then closes the socket, the kernel answers the unread bytes with a reset, and a client
 * that is still sending (Node's fetch, anything without Expect: 100-continue) gets EPIPE or
 * ECONNRESET instead of the answer. So the answer is written, the sending side is shut down
 * (FIN after the answer), and the socket is handed here: one thread reads and discards what
 * the client still sends, without buffering it (recv with MSG_TRUNC into one scratch buffer),
 * until the client closes, or a bound is hit (bytes, total time, or idle time), and only
 * then closes. A client that reads while it sends stops early; one that reads only when it
 * has sent everything finds the answer waiting, as long as it finishes within the bounds.
 *
 * Memory is constant: a fixed table of slots and one scratch buffer, whatever the clients
 * send. The number of sockets lingering at once is capped; past the cap a socket is closed
 * at once (the old behaviour) and counted.
 *
 * Internal to httpd.c. httpd_linger_add() may be called from any thread.
 */
#ifndef RELAYLAB_HTTPD_LINGER_H
#define RELAYLAB_HTTPD_LINGER_H

#include <stddef.h>

#include "metrics.h"

struct httpd_linger;

struct httpd_linger_config {
    unsigned slots;          /* sockets lingering at once */
    size_t max_bytes;        /* discarded per socket before it is closed anyway */
    long max_ms;             /* total time a socket may linger */
    long idle_ms;            /* time without data from the client before it is closed */
    struct metrics *metrics; /* optional */
};

/*
 * Starts the lingering thread. Returns NULL with a message in err (out of memory, no
 * threads, no epoll). Free with httpd_linger_free.
 */
struct httpd_linger *httpd_linger_new(const struct httpd_linger_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Takes a duplicate of fd (the caller keeps fd and may close it at once), shuts its
 * sending side down, and discards what arrives on it within the bounds. Returns 0, or -1
 * when every slot is taken or dup fails (nothing is kept; the caller just closes fd).
 */
int httpd_linger_add(struct httpd_linger *l, int fd);

/* Sockets lingering right now. */
unsigned httpd_linger_count(struct httpd_linger *l);

/* Stops the thread and closes every lingering socket. Accepts NULL. */
void httpd_linger_free(struct httpd_linger *l);

#endif
