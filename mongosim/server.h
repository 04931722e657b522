/*
 * server — mongosim's one event loop (epoll): a listener per live member, non-blocking
 * client connections with capped input and output buffers, requests parked while they
 * wait (awaitable hello, change-stream getMore), per-member latency and pause, and the
 * election timer. Bad input closes only the connection that sent it.
 */
#ifndef MONGOSIM_SERVER_H
#define MONGOSIM_SERVER_H

#include <signal.h>
#include <stddef.h>

struct msim;
struct server;

/*
 * Creates the loop for sim (borrowed) and starts listening on every member's port.
 * Returns NULL with a message in err (for example a port in use).
 */
struct server *server_new(struct msim *sim, char *err, size_t errlen);

/* Runs until *stop becomes nonzero. Returns 0, or -1 on a fatal epoll error. */
int server_run(struct server *srv, volatile sig_atomic_t *stop);

/* Closes every socket and frees the loop. Accepts NULL. */
void server_free(struct server *srv);

#endif
