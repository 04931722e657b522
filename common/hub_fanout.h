/*
 * hub_fanout — sender threads for the sweep's fan-out. The lws thread stays the only one
 * that touches lws and the clients; these threads only call send() on descriptors and
 * bytes the sweep hands them, while the lws thread waits for them (so no descriptor can
 * be closed and no frame freed meanwhile). On loopback each send() also runs the
 * receiver's half of TCP; on any host it is most of the relay's CPU per delivery, so
 * spreading one event's thousands of sends over cores shortens the time to the last
 * client.
 */
#ifndef RELAYLAB_HUB_FANOUT_H
#define RELAYLAB_HUB_FANOUT_H

#include <stddef.h>
#include <sys/types.h>

/* One send: in fd, p, len; out sent (bytes, or -1) and err (errno when sent is -1). */
struct hub_send_job {
    int fd;
    int err;
    const void *p;
    size_t len;
    ssize_t sent;
};

struct hub_fanout;

/* Starts `threads` sender threads (>= 1). Returns NULL when none could be started. */
struct hub_fanout *hub_fanout_new(int threads);
/* Stops and joins the threads. Accepts NULL. */
void hub_fanout_free(struct hub_fanout *f);
/* Sends every job, the calling thread taking part; returns when all are done, with the
 * number of jobs the sender threads did. */
size_t hub_fanout_run(struct hub_fanout *f, struct hub_send_job *jobs, size_t n);
/* Sends the jobs on the calling thread alone. */
void hub_send_jobs(struct hub_send_job *jobs, size_t n);

#endif
