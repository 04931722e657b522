#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "cursor.h"
#include "log.h"
#include "repl.h"
#include "sim.h"
#include "wire.h"

#define READ_CHUNK 65536
#define OUT_MAX (64u * 1024 * 1024)
#define CURSOR_IDLE_MS (10 * 60 * 1000)

enum { K_LISTENER = 1, K_CONN = 2 };

struct listener {
    int kind;
    int member;
    int fd;
};

struct conn {
    int kind;
    int fd, member;
    int64_t id;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    int64_t out_ready_at;
    struct wire_msg *pending; /* a request waiting for a change or its deadline */
    int64_t wait_deadline;
    int64_t progress;      /* a yielding command's work so far (cmd_ctx.progress) */
    struct cmd_held *held; /* pending's reply, held for its write concern (cmd_ctx.held) */
    int close_after_flush, dead;
    uint32_t events; /* what epoll watches now */
    struct conn *next;
};

struct server {
    struct msim *sim;
    int ep;
    struct listener l[MONGOSIM_MAX_MEMBERS];
    struct conn *conns;
    long nconns;
    int64_t next_conn_id;
    int32_t next_msg_id; /* requestID of the next reply */
    int64_t last_sweep;
    unsigned up_mask; /* members whose listener state was last reconciled as up */
};

static int open_listener(struct server *s, int member, char *err, size_t errlen)
{
    const struct mongosim_config *cfg = s->sim->cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->sim->repl->m[member].port);
    int rc = getaddrinfo(cfg->bind, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "bad bind address %s: %s", cfg->bind, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0)
        goto fail;
    freeaddrinfo(res);
    s->l[member] = (struct listener){K_LISTENER, member, fd};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->l[member]};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        close(fd);
        s->l[member].fd = -1;
        return -1;
    }
    LOG_INFO("listening member=%d addr=%s:%s", member, cfg->bind, port);
    return 0;
fail:
    snprintf(err, errlen, "listen on %s:%s: %s", cfg->bind, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

struct server *server_new(struct msim *sim, char *err, size_t errlen)
{
    struct server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->sim = sim;
    s->next_conn_id = 1;
    s->next_msg_id = 1;
    for (int i = 0; i < MONGOSIM_MAX_MEMBERS; i++)
        s->l[i].fd = -1;
    s->up_mask = (1u << sim->repl->n) - 1;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        free(s);
        return NULL;
    }
    for (int i = 0; i < sim->repl->n; i++) {
        if (open_listener(s, i, err, errlen) != 0) {
            server_free(s);
            return NULL;
        }
    }
    return s;
}

static void conn_free(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    wire_msg_free(c->pending);
    cmd_held_free(c->held);
    free(c->in);
    free(c->out);
    free(c);
}

void server_free(struct server *s)
{
    if (s == NULL)
        return;
    while (s->conns) {
        struct conn *c = s->conns;
        s->conns = c->next;
        conn_free(c);
    }
    for (int i = 0; i < MONGOSIM_MAX_MEMBERS; i++)
        if (s->l[i].fd >= 0)
            close(s->l[i].fd);
    if (s->ep >= 0)
        close(s->ep);
    free(s);
}

/* Marks c for closing; it is freed after the current pass. */
static void conn_close(struct server *s, struct conn *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = 1;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    s->nconns--;
    LOG_DEBUG("conn_closed conn=%lld member=%d reason=%s", (long long)c->id, c->member, why);
}

static void accept_all(struct server *s, struct listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                LOG_WARN("accept_failed member=%d err=\"%s\"", l->member, strerror(errno));
            return;
        }
        if (s->nconns >= s->sim->cfg->max_conns) {
            LOG_WARN("conn_refused member=%d reason=max_conns limit=%ld", l->member,
                     s->sim->cfg->max_conns);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->kind = K_CONN;
        c->fd = fd;
        c->member = l->member;
        c->id = s->next_conn_id++;
        c->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        s->conns = c;
        s->nconns++;
        LOG_DEBUG("conn_open conn=%lld member=%d", (long long)c->id, c->member);
    }
}

/* Reads what is available, keeping the buffer no larger than one message plus a chunk. */
static void conn_read(struct server *s, struct conn *c)
{
    for (int round = 0; round < 16 && !c->dead; round++) {
        size_t need = WIRE_HEADER_LEN;
        if (c->in_len >= WIRE_HEADER_LEN) {
            char err[128];
            int32_t n = wire_frame_length(c->in, c->in_len, err, sizeof err);
            if (n < 0) {
                LOG_WARN("bad_message conn=%lld member=%d err=\"%s\"", (long long)c->id, c->member,
                         err);
                conn_close(s, c, "bad_header");
                return;
            }
            need = (size_t)n;
        }
        if (c->in_len >= need + READ_CHUNK)
            return; /* enough buffered; process first */
        size_t want = (need > c->in_len ? need : c->in_len) + READ_CHUNK;
        if (c->in_cap < want) {
            uint8_t *p = realloc(c->in, want);
            if (p == NULL) {
                conn_close(s, c, "oom");
                return;
            }
            c->in = p;
            c->in_cap = want;
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r > 0) {
            c->in_len += (size_t)r;
            continue;
        }
        if (r == 0)
            conn_close(s, c, "eof");
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(s, c, "read_error");
        return;
    }
}

static void conn_flush(struct server *s, struct conn *c, int64_t now)
{
    while (!c->dead && c->out_off < c->out_len && now >= c->out_ready_at) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w < 0 && errno == EINTR)
            continue;
        conn_close(s, c, "write_error");
        return;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->close_after_flush && !c->dead)
            conn_close(s, c, "closed_by_command");
    }
}

static void conn_queue(struct server *s, struct conn *c, const uint8_t *p, size_t n, int64_t now)
{
    size_t have = c->out_len - c->out_off;
    if (have + n > OUT_MAX) {
        LOG_WARN("output_overflow conn=%lld member=%d", (long long)c->id, c->member);
        conn_close(s, c, "output_overflow");
        return;
    }
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, have);
        c->out_off = 0;
        c->out_len = have;
    }
    if (c->out_cap < have + n) {
        size_t cap = (have + n) * 2;
        uint8_t *q = realloc(c->out, cap);
        if (q == NULL) {
            conn_close(s, c, "oom");
            return;
        }
        c->out = q;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    if (have == 0)
        c->out_ready_at = now + s->sim->repl->m[c->member].latency_ms;
}

/*
 * After a streamed hello's reply (sent as reply_id with moreToCome): parks next, its next
 * invocation (taken), on c as mongod parks its synthetic exhaust request, whose requestID is
 * the reply's, so that the next reply answers it (responseTo = reply_id).
 */
static void stream_park(struct conn *c, struct wire_msg *msg, bson_t *next, int32_t reply_id)
{
    bson_destroy(&msg->cmd);
    bson_steal(&msg->cmd, next);
    msg->request_id = reply_id;
    c->pending = msg;
    c->wait_deadline = 0; /* a first run: the wait starts now */
    c->progress = 0;
}

/* Runs msg (owned) on c; parks it in c->pending when the command waits. */
static void conn_run(struct server *s, struct conn *c, struct wire_msg *msg, int64_t now)
{
    struct cmd_ctx ctx = {.sim = s->sim,
                          .member = c->member,
                          .conn_id = c->id,
                          .now = now,
                          .wait_deadline = c->pending == msg ? c->wait_deadline : 0,
                          .progress = c->pending == msg ? c->progress : 0,
                          .held = c->pending == msg ? c->held : NULL,
                          .db = msg->db};
    bson_t reply;
    enum cmd_status st = cmd_dispatch(&ctx, &msg->cmd, &reply);
    c->held = ctx.held; /* a held write waits on c like any waiting command: one per connection */
    if (st == CMD_WAIT) {
        c->pending = msg;
        c->wait_deadline = ctx.wait_deadline;
        c->progress = ctx.progress;
        return;
    }
    c->pending = NULL;
    LOG_DEBUG("command conn=%lld member=%d cmd=%s db=%s", (long long)c->id, c->member, msg->name,
              msg->db);
    /* Streaming hello (exhaust): an awaitable hello whose request allows exhaust is answered
     * with moreToCome, then again at every topology change or maxAwaitTimeMS, until the
     * connection closes, as mongod does; an error reply (ok: 0) ends the stream. */
    bson_t next;
    int stream = ctx.stream && msg->opcode == WIRE_OP_MSG &&
                 (msg->flags & WIRE_MSG_EXHAUST_ALLOWED) && !ctx.close_after &&
                 cmd_hello_next(&msg->cmd, &reply, &next) == 0;
    if (!(msg->opcode == WIRE_OP_MSG && (msg->flags & WIRE_MSG_MORE_TO_COME))) {
        size_t n;
        int32_t id = s->next_msg_id;
        s->next_msg_id = s->next_msg_id == INT32_MAX ? 1 : s->next_msg_id + 1;
        uint8_t *p =
            wire_encode_reply(msg->opcode == WIRE_OP_QUERY, stream ? WIRE_MSG_MORE_TO_COME : 0, id,
                              msg->request_id, &reply, &n);
        if (p)
            conn_queue(s, c, p, n, now);
        if (p && stream && !c->dead) {
            free(p);
            stream_park(c, msg, &next, id);
            bson_destroy(&reply);
            return;
        }
        free(p);
    }
    if (stream)
        bson_destroy(&next);
    if (ctx.close_after)
        c->close_after_flush = 1;
    bson_destroy(&reply);
    wire_msg_free(msg);
}

static void conn_process(struct server *s, struct conn *c, int64_t now)
{
    while (!c->dead && !c->pending && !c->close_after_flush) {
        char err[256] = "";
        int32_t n = wire_frame_length(c->in, c->in_len, err, sizeof err);
        if (n < 0) {
            LOG_WARN("bad_message conn=%lld member=%d err=\"%s\"", (long long)c->id, c->member,
                     err);
            conn_close(s, c, "bad_header");
            return;
        }
        if (n == 0 || c->in_len < (size_t)n)
            return;
        struct wire_msg *msg = wire_msg_new();
        if (msg == NULL) {
            conn_close(s, c, "oom");
            return;
        }
        if (wire_parse(c->in, (size_t)n, msg, err, sizeof err) != 0) {
            LOG_WARN("bad_message conn=%lld member=%d err=\"%s\"", (long long)c->id, c->member,
                     err);
            free(msg);
            conn_close(s, c, "bad_message");
            return;
        }
        memmove(c->in, c->in + n, c->in_len - (size_t)n);
        c->in_len -= (size_t)n;
        conn_run(s, c, msg, now);
    }
}

/*
 * Sets what epoll watches: input unless blocked, output when a reply is due. A blocked
 * connection (a waiting command, a hello stream, a paused member) still watches for the peer's
 * close, so that a client gone while its request waits is dropped at once, not at the wait's
 * end (a hello stream waits forever).
 */
static void conn_update_events(struct server *s, struct conn *c, int blocked, int64_t now)
{
    if (c->dead)
        return;
    uint32_t want = (blocked ? EPOLLRDHUP : EPOLLIN) |
                    (c->out_off < c->out_len && now >= c->out_ready_at ? EPOLLOUT : 0);
    if (want == c->events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = want;
}

/*
 * Opens listeners of restarted members, closes those of killed ones and drops the killed
 * members' connections. Runs right after every command, so a kill has taken effect before
 * its reply leaves (a client never sees the reply while the member still answers).
 */
static void reconcile_members(struct server *s)
{
    struct repl *r = s->sim->repl;
    unsigned mask = 0;
    for (int i = 0; i < r->n; i++)
        mask |= (unsigned)r->m[i].up << i;
    if (mask == s->up_mask)
        return;
    s->up_mask = mask;
    for (int i = 0; i < r->n; i++) {
        if (r->m[i].up && s->l[i].fd < 0) {
            char err[256];
            if (open_listener(s, i, err, sizeof err) != 0) {
                LOG_WARN("restart_listen_failed member=%d err=\"%s\"", i, err);
                s->up_mask &= ~(1u << i); /* retried on the next pass */
            }
        } else if (!r->m[i].up && s->l[i].fd >= 0) {
            close(s->l[i].fd); /* closing removes it from the epoll set */
            s->l[i].fd = -1;
            LOG_INFO("stopped_listening member=%d", i);
        }
    }
    for (struct conn *c = s->conns; c; c = c->next)
        if (!c->dead && !r->m[c->member].up && !c->close_after_flush)
            conn_close(s, c, "member_killed");
}

static void conn_service(struct server *s, struct conn *c, int changed, int64_t now)
{
    const struct member *m = &s->sim->repl->m[c->member];
    if (!m->up && !c->close_after_flush) {
        conn_close(s, c, "member_killed");
        return;
    }
    if (m->paused) {
        conn_flush(s, c, now);
        conn_update_events(s, c, 1, now);
        return;
    }
    if (c->pending && (changed || now >= c->wait_deadline))
        conn_run(s, c, c->pending, now);
    if (!c->pending)
        conn_process(s, c, now);
    reconcile_members(s);
    if (c->dead)
        return;
    conn_flush(s, c, now);
    conn_update_events(s, c, c->pending != NULL || c->close_after_flush, now);
}

static int next_timeout(struct server *s, int64_t now, int64_t election_at)
{
    if (s->sim->changed)
        return 0;
    int64_t t = now + 1000;
    if (election_at && election_at < t)
        t = election_at;
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->pending && c->wait_deadline < t)
            t = c->wait_deadline;
        if (c->out_off < c->out_len && c->out_ready_at > now && c->out_ready_at < t)
            t = c->out_ready_at;
    }
    return t <= now ? 0 : (int)(t - now);
}

int server_run(struct server *s, volatile sig_atomic_t *stop)
{
    struct epoll_event evs[128];
    while (!*stop) {
        int64_t now = msim_now_ms();
        int64_t election_at = repl_tick(s->sim->repl, now);
        int n = epoll_wait(s->ep, evs, 128, next_timeout(s, now, election_at));
        if (n < 0 && errno != EINTR) {
            LOG_ERROR("epoll_wait_failed err=\"%s\"", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == K_LISTENER) {
                struct listener *l = evs[i].data.ptr;
                if (l->fd >= 0)
                    accept_all(s, l);
                continue;
            }
            struct conn *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                conn_close(s, c, "hangup");
                continue;
            }
            if ((evs[i].events & EPOLLRDHUP) && !(evs[i].events & EPOLLIN)) {
                conn_close(s, c, "eof");
                continue;
            }
            if (evs[i].events & EPOLLIN)
                conn_read(s, c);
            if (evs[i].events & EPOLLOUT)
                conn_flush(s, c, msim_now_ms());
        }
        now = msim_now_ms();
        repl_tick(s->sim->repl, now);
        reconcile_members(s);
        int changed = s->sim->changed;
        s->sim->changed = 0;
        for (struct conn *c = s->conns; c; c = c->next)
            if (!c->dead)
                conn_service(s, c, changed, now);
        for (struct conn **pp = &s->conns; *pp;) {
            if ((*pp)->dead) {
                struct conn *d = *pp;
                *pp = d->next;
                conn_free(d);
            } else {
                pp = &(*pp)->next;
            }
        }
        if (now - s->last_sweep > 5000) {
            s->last_sweep = now;
            int k = cursors_expire(s->sim->cursors, now, CURSOR_IDLE_MS);
            if (k > 0)
                LOG_INFO("cursors_expired count=%d", k);
        }
    }
    LOG_INFO("stopping conns=%ld", s->nconns);
    return 0;
}
